# SPDX-License-Identifier: BSD-2-Clause
# cmake -DFILE=compile_options.txt -DREQUIRED="-fa;-fb" -P check_flags.cmake
# Fails unless every flag in REQUIRED is among the compile options that
# CMake wrote to FILE (a ;-list, from $<TARGET_PROPERTY:t,COMPILE_OPTIONS>).
cmake_minimum_required(VERSION 3.18)
file(READ "${FILE}" text)
string(STRIP "${text}" options)
foreach(flag IN LISTS REQUIRED)
	if(NOT flag IN_LIST options)
		message(FATAL_ERROR "${flag} is missing from ${FILE}: ${options}")
	endif()
	message(STATUS "${flag}: present")
endforeach()
