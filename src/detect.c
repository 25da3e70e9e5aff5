/* What a repository says about itself: its license and a description. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ipm/buf.h"
#include "ipm/detect.h"
#include "ipm/error.h"
#include "ipm/xalloc.h"

/* ---- license ---- */

/* text lowercased, every run of whitespace and Markdown emphasis ('*', '#',
 * '>', '_' between spaces) one space, and curly quotes dropped, so that
 * fingerprints match a text however it was wrapped or decorated. */
static char *normalise(const char *text)
{
	struct ipm_buf b = IPM_BUF_INIT;
	int space = 1;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		unsigned char c = *p;
		if (c == '*' || c == '#' || c == '>' || c == '"' || c == '\'' || c == '`')
			continue;
		if (c >= 0x80)   /* “ ” ‘ ’ and the rest of UTF-8: not in any fingerprint */
			continue;
		if (isspace(c)) {
			if (!space)
				ipm_buf_addch(&b, ' ');
			space = 1;
			continue;
		}
		ipm_buf_addch(&b, (char)tolower(c));
		space = 0;
	}
	return ipm_buf_detach(&b);
}

static int has(const char *norm, const char *phrase)
{
	return strstr(norm, phrase) != NULL;
}

/* Offset of phrase in norm, or a large number when absent. */
static size_t pos(const char *norm, const char *phrase)
{
	const char *p = strstr(norm, phrase);
	return p ? (size_t)(p - norm) : (size_t)-1;
}

/* The GNU family: the title that comes first names the license (the LGPL's
 * text refers to the GPL, and the GPL's to the LGPL, further down). */
static const char *gnu_license(const char *n)
{
	size_t lgpl = pos(n, "gnu lesser general public license");
	size_t lib = pos(n, "gnu library general public license");
	size_t agpl = pos(n, "gnu affero general public license");
	size_t gpl = pos(n, "gnu general public license");
	size_t first = lgpl;
	int full = has(n, "how to apply these terms") || has(n, "terms and conditions");
	int later = full || has(n, "any later version");

	if (lib < first)
		first = lib;
	if (agpl < first)
		first = agpl;
	if (gpl < first)
		first = gpl;
	if (first == (size_t)-1)
		return NULL;
	if (first == agpl)
		return later ? "AGPL-3.0-or-later" : "AGPL-3.0-only";
	if (first == lib)
		return later ? "LGPL-2.0-or-later" : "LGPL-2.0-only";
	if (first == lgpl) {
		if (has(n, "version 2.1"))
			return later ? "LGPL-2.1-or-later" : "LGPL-2.1-only";
		if (has(n, "version 3"))
			return later ? "LGPL-3.0-or-later" : "LGPL-3.0-only";
		return NULL;
	}
	if (has(n, "version 3, 29 june 2007") || has(n, "either version 3") || has(n, "version 3 of the license"))
		return later ? "GPL-3.0-or-later" : "GPL-3.0-only";
	if (has(n, "version 2, june 1991") || has(n, "either version 2") || has(n, "version 2 of the license"))
		return later ? "GPL-2.0-or-later" : "GPL-2.0-only";
	return NULL;
}

int ipm_detect_license(const char **spdx, const char *text)
{
	char *n;
	const char *id = NULL;

	*spdx = NULL;
	if (!text)
		return IPM_EINVAL;
	n = normalise(text);
	if (has(n, "apache license") && has(n, "version 2.0"))
		id = "Apache-2.0";
	else if (has(n, "mozilla public license") && (has(n, "version 2.0") || has(n, "v. 2.0")))
		id = "MPL-2.0";
	else if (has(n, "boost software license"))
		id = "BSL-1.0";
	else if (has(n, "this is free and unencumbered software released into the public domain"))
		id = "Unlicense";
	else if (has(n, "creative commons") && has(n, "cc0"))
		id = "CC0-1.0";
	else if ((id = gnu_license(n)))
		;
	else if (has(n, "provided as-is, without any express or implied warranty") &&
		 has(n, "altered source versions must be plainly marked"))
		id = "Zlib";
	else if (has(n, "permission is hereby granted, free of charge, to any person obtaining a copy"))
		id = "MIT";
	else if (has(n, "with or without fee is hereby granted"))
		/* ISC asks to keep the notice; 0BSD, with the same grant, does not */
		id = has(n, "provided that the above copyright notice") ? "ISC" : "0BSD";
	else if (has(n, "redistribution and use in source and binary forms")) {
		if (has(n, "all advertising materials mentioning"))
			id = "BSD-4-Clause";
		else if (has(n, "neither the name") || has(n, "names of its contributors may not be used") ||
			 has(n, "name of the author may not be used") || has(n, "may not be used to endorse"))
			id = "BSD-3-Clause";
		else
			id = "BSD-2-Clause";
	}
	free(n);
	if (!id)
		return IPM_ENOTFOUND;
	*spdx = id;
	return 0;
}

/* ---- description ---- */

/* One line of the README, without its end of line. */
struct line {
	const char *s;
	size_t len;
};

static int blank(struct line l)
{
	for (size_t i = 0; i < l.len; i++)
		if (!isspace((unsigned char)l.s[i]))
			return 0;
	return 1;
}

/* l without leading whitespace. */
static struct line lstrip(struct line l)
{
	while (l.len && isspace((unsigned char)*l.s)) {
		l.s++;
		l.len--;
	}
	return l;
}

static int starts(struct line l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l.len >= n && strncmp(l.s, prefix, n) == 0;
}

/* A line made of one character repeated (setext or rst underline, rule). */
static int underline(struct line l)
{
	l = lstrip(l);
	while (l.len && isspace((unsigned char)l.s[l.len - 1]))
		l.len--;
	if (l.len < 3 || !strchr("=-~^*_+#", l.s[0]))
		return 0;
	for (size_t i = 1; i < l.len; i++)
		if (l.s[i] != l.s[0] && l.s[i] != ' ')
			return 0;
	return 1;
}

/* A line that starts a block not to be taken as the description. */
static int not_prose(struct line l)
{
	struct line t = lstrip(l);

	if (t.len == 0)
		return 1;
	if (l.len >= 4 && (starts(l, "    ") || l.s[0] == '\t'))
		return 1;   /* indented code */
	if (strchr("#<|>!=", t.s[0]) || starts(t, "[!") || starts(t, "[![") || starts(t, ".. ") ||
	    starts(t, "```") || starts(t, "~~~") || starts(t, "- ") || starts(t, "* ") || starts(t, "+ ") ||
	    starts(t, ":"))
		return 1;
	if (isdigit((unsigned char)t.s[0])) {
		size_t i = 0;
		while (i < t.len && isdigit((unsigned char)t.s[i]))
			i++;
		if (i < t.len && (t.s[i] == '.' || t.s[i] == ')') && i + 1 < t.len && t.s[i + 1] == ' ')
			return 1;   /* numbered list */
	}
	if (t.s[0] == '[') {   /* a link definition "[x]: url" or a line of badges */
		const char *close = memchr(t.s, ']', t.len);
		if (close && (size_t)(close - t.s) + 1 < t.len && close[1] == ':')
			return 1;
	}
	return underline(l);
}

/* Appends the text of a paragraph with its inline Markdown reduced to text. */
static void add_plain(struct ipm_buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '!' && i + 1 < len && s[i + 1] == '[') {
			/* an image: dropped, with its link */
			const char *close = memchr(s + i, ']', len - i);
			if (close && (size_t)(close - s) + 1 < len && close[1] == '(') {
				const char *end = memchr(close, ')', len - (size_t)(close - s));
				if (end) {
					i = (size_t)(end - s);
					continue;
				}
			}
		}
		if (c == '[') {
			/* [text](url) and [text][ref]: the text */
			const char *close = memchr(s + i, ']', len - i);
			if (close && (size_t)(close - s) + 1 < len && (close[1] == '(' || close[1] == '[')) {
				const char *end = memchr(close + 2, close[1] == '(' ? ')' : ']', len - (size_t)(close - s) - 2);
				if (end) {
					add_plain(b, s + i + 1, (size_t)(close - s) - i - 1);
					i = (size_t)(end - s);
					continue;
				}
			}
			continue;
		}
		if (c == ']' || c == '`' || c == '*')
			continue;
		if (c == '_' && (i + 1 < len && s[i + 1] == '_'))
			continue;
		if (c == '<') {   /* inline HTML: dropped */
			const char *end = memchr(s + i, '>', len - i);
			if (end) {
				i = (size_t)(end - s);
				continue;
			}
		}
		if (isspace((unsigned char)c)) {
			if (b->len && b->ptr[b->len - 1] != ' ')
				ipm_buf_addch(b, ' ');
			continue;
		}
		ipm_buf_addch(b, c);
	}
}

static size_t count_words(const char *s)
{
	size_t n = 0;
	int in = 0;
	for (; *s; s++) {
		if (isspace((unsigned char)*s)) {
			in = 0;
		} else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

/* Cuts s at the end of its first sentence ('.', '!' or '?' followed by a
 * space, not after an abbreviation like "e.g."), drops
 * a final period, and keeps at most max bytes on a word boundary. */
static void first_sentence(char *s, size_t max)
{
	size_t len = strlen(s);

	for (size_t i = 0; i + 1 < len; i++) {
		if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && s[i + 1] == ' ') {
			size_t w = i;
			while (w > 0 && s[w - 1] != ' ')
				w--;
			if (s[i] == '.' && memchr(s + w, '.', i - w))
				continue;   /* "e.g.", "i.e." */
			len = i + (s[i] != '.');
			s[len] = '\0';
			break;
		}
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '.' || s[len - 1] == ':' || s[len - 1] == ','))
		s[--len] = '\0';
	if (len > max) {
		len = max;
		while (len > 0 && s[len] != ' ')
			len--;
		if (len == 0)
			len = max;
		s[len] = '\0';
		while (len && strchr(" ,;:-", s[len - 1]))
			s[--len] = '\0';
	}
}

int ipm_detect_description(char **out, const char *readme_text)
{
	struct line *lines = NULL;
	size_t n = 0, alloc = 0;
	int fence = 0, rc = IPM_ENOTFOUND;

	*out = NULL;
	if (!readme_text)
		return IPM_EINVAL;
	for (const char *p = readme_text; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		XGROW(lines, alloc, n + 1);
		lines[n].s = p;
		lines[n].len = len && p[len - 1] == '\r' ? len - 1 : len;
		n++;
		p += len + (end != NULL);
	}
	for (size_t i = 0; i < n && rc == IPM_ENOTFOUND;) {
		struct ipm_buf para = IPM_BUF_INIT;
		size_t start = i;
		int html = 0;

		if (starts(lstrip(lines[i]), "```") || starts(lstrip(lines[i]), "~~~")) {
			fence = !fence;
			i++;
			continue;
		}
		if (fence || blank(lines[i])) {
			i++;
			continue;
		}
		/* a heading underlined on the next line */
		if (i + 1 < n && underline(lines[i + 1]) && !blank(lines[i])) {
			i += 2;
			continue;
		}
		if (not_prose(lines[i])) {
			struct line t = lstrip(lines[i]);
			/* HTML, lists and quotes go up to the next blank line; a
			 * heading, a line of badges or a link definition alone, as
			 * a paragraph often follows without a blank line */
			if (t.s[0] != '<' && !strchr("-*+>|", t.s[0]) && !isdigit((unsigned char)t.s[0])) {
				i++;
				continue;
			}
			html = t.s[0] == '<';
			for (i++; i < n && !blank(lines[i]); i++)
				if (!html && (starts(lstrip(lines[i]), "```") || starts(lstrip(lines[i]), "~~~")))
					break;
			continue;
		}
		for (i = start; i < n && !blank(lines[i]); i++) {
			if (i > start && (not_prose(lines[i]) || (i + 1 < n && underline(lines[i + 1]))))
				break;
			add_plain(&para, lines[i].s, lines[i].len);
			ipm_buf_addch(&para, ' ');
		}
		if (para.len) {
			char *text = ipm_buf_detach(&para);
			char *t = text;
			while (*t == ' ')
				t++;
			first_sentence(t, IPM_DETECT_DESCRIPTION_MAX);
			if (count_words(t) >= 3) {
				*out = xstrdup(t);
				rc = 0;
			}
			free(text);
		}
		ipm_buf_release(&para);
	}
	free(lines);
	return rc;
}
