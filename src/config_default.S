/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config_default.S: conf/aio-echod.conf, compiled in as a NUL-terminated
 * string (config_default_text), so the binary carries its default
 * configuration.  AIO_DEFAULT_CONF is the file's path, set by CMake.
 */
	.section .rodata
	.globl	config_default_text
	.type	config_default_text, @object
config_default_text:
	.incbin	AIO_DEFAULT_CONF
	.byte	0
	.size	config_default_text, .-config_default_text

	.section .note.GNU-stack, "", @progbits
