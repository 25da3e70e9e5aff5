/* The license and description detectors, on short real-looking texts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ipm/detect.h"
#include "ipm/error.h"

static void expect_license(const char *text, const char *want)
{
	const char *got = NULL;
	int rc = ipm_detect_license(&got, text);
	if (!want && rc == 0)
		fail_msg("got '%s', want none, for: %.60s", got, text);
	if (want && (rc != 0 || strcmp(got, want) != 0))
		fail_msg("got '%s', want '%s', for: %.60s", rc ? "(none)" : got, want, text);
}

static const char mit[] =
	"MIT License\n\nCopyright (c) 2021 Leonard Iklé\n\n"
	"Permission is hereby granted, free of charge, to any person obtaining a copy\n"
	"of this software and associated documentation files (the \"Software\"), to deal\n"
	"in the Software without restriction, including without limitation the rights\n";

static const char bsd3[] =
	"Copyright (c) 2009, Example Inc.\nAll rights reserved.\n\n"
	"Redistribution and use in source and binary forms, with or without\n"
	"modification, are permitted provided that the following conditions are met:\n"
	"  * Redistributions of source code must retain the above copyright\n"
	"    notice, this list of conditions and the following disclaimer.\n"
	"  * Neither the name of Example Inc. nor the names of its\n"
	"    contributors may be used to endorse or promote products derived\n";

static const char bsd2[] =
	"Copyright (c) 2014 Joachim Nilsson\n\n"
	"Redistribution and use in source and binary forms, with or without\n"
	"modification, are permitted provided that the following conditions are met:\n\n"
	"1. Redistributions of source code must retain the above copyright notice, this\n"
	"   list of conditions and the following disclaimer.\n"
	"2. Redistributions in binary form must reproduce the above copyright notice,\n"
	"THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS \"AS IS\"\n";

static const char isc[] =
	"Copyright (c) 2004-2010 by Internet Systems Consortium, Inc. (\"ISC\")\n\n"
	"Permission to use, copy, modify, and/or distribute this software for any\n"
	"purpose with or without fee is hereby granted, provided that the above\n"
	"copyright notice and this permission notice appear in all copies.\n\n"
	"THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES\n";

static const char zlib[] =
	"  This software is provided 'as-is', without any express or implied\n"
	"  warranty.  In no event will the authors be held liable for any damages\n"
	"  arising from the use of this software.\n\n"
	"  3. This notice may not be removed or altered from any source distribution.\n"
	"  2. Altered source versions must be plainly marked as such, and must not be\n";

static const char apache[] =
	"\n                                 Apache License\n"
	"                           Version 2.0, January 2004\n"
	"                        http://www.apache.org/licenses/\n";

static const char gpl3_full[] =
	"                    GNU GENERAL PUBLIC LICENSE\n"
	"                       Version 3, 29 June 2007\n\n"
	" Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>\n"
	"                       TERMS AND CONDITIONS\n"
	"the GNU Lesser General Public License instead of this License.\n";

static const char gpl2_full[] =
	"\t\t    GNU GENERAL PUBLIC LICENSE\n\t\t       Version 2, June 1991\n\n"
	"\t\t    TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION\n";

static const char gpl2_only_notice[] =
	"This program is free software; you can redistribute it and/or modify it\n"
	"under the terms of the GNU General Public License version 2 as published by\n"
	"the Free Software Foundation (version 2 of the License).\n";

static const char gpl3_later_notice[] =
	"This program is free software: you can redistribute it and/or modify\n"
	"it under the terms of the GNU General Public License as published by\n"
	"the Free Software Foundation, either version 3 of the License, or\n"
	"(at your option) any later version.\n";

static const char lgpl21[] =
	"                  GNU LESSER GENERAL PUBLIC LICENSE\n"
	"                       Version 2.1, February 1999\n\n"
	"[This is the first released version of the Lesser GPL.  It also counts\n"
	" as the successor of the GNU Library Public License, version 2, hence\n"
	"                  GNU LESSER GENERAL PUBLIC LICENSE\n"
	"   TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION\n";

static const char lgpl3[] =
	"                   GNU LESSER GENERAL PUBLIC LICENSE\n"
	"                       Version 3, 29 June 2007\n\n"
	"  This version of the GNU Lesser General Public License incorporates\n"
	"the terms and conditions of version 3 of the GNU General Public\n"
	"License, supplemented by the additional permissions listed below.\n";

static const char mpl[] =
	"Mozilla Public License Version 2.0\n==================================\n\n"
	"1. Definitions\n--------------\n";

static const char unlicense[] =
	"This is free and unencumbered software released into the public domain.\n\n"
	"Anyone is free to copy, modify, publish, use, compile, sell, or\n"
	"distribute this software, either in source code form or as a compiled\n";

static const char boost[] =
	"Boost Software License - Version 1.0 - August 17th, 2003\n\n"
	"Permission is hereby granted, free of charge, to any person or organization\n"
	"obtaining a copy of the software and accompanying documentation covered by\n";

static void test_license(void **state)
{
	(void)state;
	expect_license(mit, "MIT");
	expect_license("# The MIT License (MIT)\n\n**Permission is hereby granted, free of charge,** to any\n"
		       "person obtaining a copy of this software\n", "MIT");
	expect_license(bsd3, "BSD-3-Clause");
	expect_license(bsd2, "BSD-2-Clause");
	expect_license(isc, "ISC");
	expect_license(zlib, "Zlib");
	/* ISC's grant with other wording of the disclaimer (pkgconf's COPYING) */
	expect_license("Permission to use, copy, modify, and/or distribute this software for any\n"
		       "purpose with or without fee is hereby granted, provided that the above\n"
		       "copyright notice and this permission notice appear in all copies.\n\n"
		       "This software is provided 'as is' and without any warranty, express or\n"
		       "implied.  In no event shall the authors be liable for any damages arising\n", "ISC");
	expect_license("Permission to use, copy, modify, and/or distribute this software for\n"
		       "any purpose with or without fee is hereby granted.\n\n"
		       "THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL\n", "0BSD");
	expect_license(apache, "Apache-2.0");
	expect_license(gpl3_full, "GPL-3.0-or-later");
	expect_license(gpl2_full, "GPL-2.0-or-later");
	expect_license(gpl2_only_notice, "GPL-2.0-only");
	expect_license(gpl3_later_notice, "GPL-3.0-or-later");
	expect_license(lgpl21, "LGPL-2.1-or-later");
	expect_license(lgpl3, "LGPL-3.0-or-later");
	expect_license(mpl, "MPL-2.0");
	expect_license(unlicense, "Unlicense");
	expect_license(boost, "BSL-1.0");
	expect_license("All rights reserved. Do not copy.\n", NULL);
	expect_license("", NULL);
	{
		const char *got = "x";
		assert_int_equal(ipm_detect_license(&got, NULL), IPM_EINVAL);
		assert_null(got);
	}
}

static void expect_description(const char *readme, const char *want)
{
	char *got = NULL;
	int rc = ipm_detect_description(&got, readme);
	if (!want && rc == 0)
		fail_msg("got '%s', want none", got);
	if (want && (rc != 0 || strcmp(got, want) != 0))
		fail_msg("got '%s', want '%s'", rc ? "(none)" : got, want);
	free(got);
}

static void test_description(void **state)
{
	(void)state;
	expect_description(
		"[![Build](https://github.com/likle/cwalk/actions/workflows/build.yml/badge.svg)](https://x)\n"
		"[![codecov](https://codecov.io/gh/likle/cwalk/badge.svg)](https://codecov.io)\n\n"
		"# cwalk - path library for C/C++\n\n"
		"Path library for C/C++. Cross-Platform for Linux, FreeBSD, Windows and MacOS.\n"
		"Supports UNIX and Windows path styles on those platforms.\n",
		"Path library for C/C++");
	expect_description(
		"<img style=\"width:100%;\" src=\"/banner.png\">\n\n"
		"[![Build Pipeline](https://github.com/likle/cwalk/actions/badge.svg)](https://x)\n"
		"[![codecov](https://img.shields.io/codecov/c/github/likle/cwalk/master.svg)](https://y)\n\n"
		"# libcwalk - path library for C/C++\n"
		"This is a lighweight C path manipulation library. It is currently compiled and\n"
		"tested under **Linux**, **FreeBSD**, **Windows** and **MacOS**.\n",
		"This is a lighweight C path manipulation library");
	expect_description(
		"<p align=\"center\">\n  <img src=\"logo.png\">\n</p>\n\n"
		"utf8.h\n======\n\n"
		"A simple one header solution to supporting utf8 strings in C and C++.\n",
		"A simple one header solution to supporting utf8 strings in C and C++");
	expect_description(
		"HTTP Parser\n===========\n\n"
		"This is a parser for HTTP messages written in C. It parses both requests and\n"
		"responses.\n",
		"This is a parser for HTTP messages written in C");
	expect_description(
		"# jsmn\n\n```c\n#include \"jsmn.h\"\nint main(void) { return 0; }\n```\n\n"
		"jsmn (pronounced like 'jasmine') is a minimalistic JSON parser in C.  It can be\n"
		"easily integrated into resource-limited or embedded projects.\n",
		"jsmn (pronounced like 'jasmine') is a minimalistic JSON parser in C");
	expect_description(
		"# md4c\n\n * item one\n * item two\n\n"
		"MD4C is a C Markdown parser, e.g. for `md2html`, with a **SAX-like** [interface](https://x/api).\n",
		"MD4C is a C Markdown parser, e.g. for md2html, with a SAX-like interface");
	/* a reference link [text][ref] keeps its text only */
	expect_description(
		"cmark is the C reference implementation of CommonMark, a rationalized\n"
		"version of Markdown syntax with a [spec][the spec].\n",
		"cmark is the C reference implementation of CommonMark, a rationalized version of Markdown syntax with a spec");
	expect_description(
		".. image:: https://img.shields.io/x.svg\n   :target: https://x\n\n"
		"libfoo\n------\n\nlibfoo does things.\n",
		"libfoo does things");
	{
		/* a sentence longer than the limit is cut on a word boundary */
		char readme[600];
		char *got = NULL;
		strcpy(readme, "# x\n\n");
		for (int i = 0; i < 60; i++)
			strcat(readme, "words ");
		strcat(readme, "\n");
		assert_int_equal(ipm_detect_description(&got, readme), 0);
		assert_true(strlen(got) <= IPM_DETECT_DESCRIPTION_MAX);
		assert_true(got[strlen(got) - 1] == 's');
		free(got);
	}
	expect_description("# title only\n\n![logo](logo.png)\n", NULL);
	expect_description("Version 1.2\n", NULL);
	expect_description("", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_license),
		cmocka_unit_test(test_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
