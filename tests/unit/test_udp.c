/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_udp: the UDP echo's loop guard, a pure function of two ports.
 */
#include "udp.h"

#include "check.h"

static void
test_port_guard(void)
{
	static const unsigned small[] = { 7, 13, 19, 37, 123 };
	size_t i;

	for (i = 0; i < sizeof(small) / sizeof(small[0]); i++)
		CHECK(udp_port_refused(small[i], 7007),
		    "a small service's port %u is never answered", small[i]);
	CHECK(udp_port_refused(1, 7007) && udp_port_refused(1023, 7007) &&
	    udp_port_refused(0, 7007), "nor any port below 1024");
	CHECK(!udp_port_refused(1024, 7007) &&
	    !udp_port_refused(50000, 7007) && !udp_port_refused(65535, 7007),
	    "a client's port (1024 and up) is answered");
	CHECK(udp_port_refused(7007, 7007) && udp_port_refused(7, 7),
	    "nor the listener's own port: another echo, or ourselves");
	CHECK(!udp_port_refused(7008, 7007), "a neighbouring port is answered");
}

int
main(void)
{
	test_port_guard();
	return (check_done());
}
