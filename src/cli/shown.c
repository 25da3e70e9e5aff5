/*
 * Text from a registry, as the terminal shows it: what the user reads is
 * what the entry says. See cli_buf_add_shown in cli.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ipm/buf.h"

/* Length of the valid UTF-8 sequence at p (2 to 4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static unsigned utf8_code_point(const unsigned char *p, size_t n)
{
	unsigned cp = p[0] & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

/* Code points a terminal acts on or that reorder text: C1 controls, the
 * bidirectional marks, embeddings, overrides and isolates. */
static int hidden_code_point(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void cli_buf_add_shown(struct ipm_buf *b, const char *text, int indent)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		size_t n;

		if (*p == '\n' && indent >= 0) {
			ipm_buf_addf(b, "\n%*s", indent, "");
			p++;
		} else if (*p == '\t') {
			ipm_buf_addch(b, '\t');
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			ipm_buf_addf(b, "\\x%02x", *p);
			p++;
		} else if (*p < 0x80) {
			/* a run of plain ASCII at once */
			const unsigned char *end = p;
			while (*end >= 0x20 && *end < 0x7f)
				end++;
			ipm_buf_addn(b, (const char *)p, (size_t)(end - p));
			p = end;
		} else if ((n = utf8_len(p)) == 0) {
			/* not UTF-8: a lone byte a terminal could read as a control */
			ipm_buf_addf(b, "\\x%02x", *p);
			p++;
		} else {
			unsigned cp = utf8_code_point(p, n);
			if (hidden_code_point(cp))
				ipm_buf_addf(b, "\\u%04x", cp);
			else
				ipm_buf_addn(b, (const char *)p, n);
			p += n;
		}
	}
}

void cli_print_shown(const char *text, int indent)
{
	struct ipm_buf b = IPM_BUF_INIT;

	cli_buf_add_shown(&b, text, indent);
	fwrite(b.ptr, 1, b.len, stdout);
	ipm_buf_release(&b);
}

char *cli_shown_dup(const char *text)
{
	struct ipm_buf b = IPM_BUF_INIT;

	cli_buf_add_shown(&b, text ? text : "", -1);
	return ipm_buf_detach(&b);
}
