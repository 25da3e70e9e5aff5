/*
 * ipm list: installed packages as a table, or one JSON document.
 *
 * Rows come from the database one at a time (ipm_db_package_each) without a
 * copy of each field and go straight into an output buffer written in large
 * writes instead of a printf a row; the column widths are asked for first
 * (ipm_db_package_widths), so no row is held.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "ipm/buf.h"
#include "ipm/db.h"
#include "ipm/xalloc.h"

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

static int add_json(void *ctx, const struct ipm_package_row *p)
{
	cJSON *o = cJSON_CreateObject();

	add_string(o, "name", p->name);
	add_string(o, "version", p->version);
	add_string(o, "registry", p->registry);
	add_string(o, "source", p->source);
	add_string(o, "resolved", p->resolved);
	add_string(o, "method", p->method);
	add_string(o, "prefix", p->prefix);
	add_string(o, "store_dir", p->store_dir);
	cJSON_AddBoolToObject(o, "explicit", p->explicit_install != 0);
	cJSON_AddNumberToObject(o, "installed_at", (double)p->installed_at);
	cJSON_AddBoolToObject(o, "guessed", p->guessed_entry != NULL);
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

/* cli_time() of t, i.e. strftime "%Y-%m-%d %H:%M" of the local time, with
 * localtime_r called once a minute of timestamps: the rows of one install
 * session share their minute, and no time zone changes offset mid-minute. */
struct clock_cache {
	long long minute;   /* first second of the cached minute, or -1 */
	char text[17];
};

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

static const char *fast_time(struct clock_cache *c, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (c->minute >= 0 && t >= c->minute && t < c->minute + 60)
		return c->text;
	if (!localtime_r(&tt, &tm) || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999) {
		c->minute = -1;
		return cli_time(t);
	}
	int year = tm.tm_year + 1900;
	put2(c->text, year / 100);
	put2(c->text + 2, year % 100);
	c->text[4] = '-';
	put2(c->text + 5, tm.tm_mon + 1);
	c->text[7] = '-';
	put2(c->text + 8, tm.tm_mday);
	c->text[10] = ' ';
	put2(c->text + 11, tm.tm_hour);
	c->text[13] = ':';
	put2(c->text + 14, tm.tm_min);
	c->text[16] = '\0';
	c->minute = t - tm.tm_sec;
	return c->text;
}

/* Appends s (len bytes) padded with spaces to width, like "%-*s". */
static char *put_padded(char *out, const char *s, size_t len, size_t width)
{
	memcpy(out, s, len);
	if (len < width) {
		memset(out + len, ' ', width - len);
		len = width;
	}
	return out + len;
}

struct table {
	struct cli *cli;
	struct ipm_buf out;
	struct clock_cache clock;
	size_t wname, wver, n;
};

/* 1 when s is printable ASCII only: copied as it is. */
static int plain_text(const char *s)
{
	while (*s >= 0x20 && *s < 0x7f)
		s++;
	return *s == '\0';
}

#define GUESSED_MARK " (guessed)"
#define DEPENDENCY_MARK " (dependency)"

static int print_row(void *ctx, const struct ipm_package_row *p)
{
	struct table *t = ctx;
	const char *when = fast_time(&t->clock, (long long)p->installed_at);
	size_t lname = strlen(p->name), lver = strlen(p->version), lwhen = strlen(when);
	size_t lsrc = p->source ? strlen(p->source) : 0;
	size_t wname = t->wname + 2, wver = t->wver + 2;
	char *o;

	if (t->n++ == 0) {
		printf("%s%-*s  %-*s  %-16s  %s%s\n", cli_bold(t->cli), (int)t->wname, "NAME",
		       (int)t->wver, "VERSION", "INSTALLED", "SOURCE", cli_reset(t->cli));
	}
	/* room for the row even if longer than the widths (a package
	 * installed between the two queries) */
	ipm_buf_grow(&t->out, (lname > wname ? lname : wname) + (lver > wver ? lver : wver) +
			      (lwhen > 18 ? lwhen : 18) + lsrc + sizeof(GUESSED_MARK) + sizeof(DEPENDENCY_MARK));
	o = t->out.ptr + t->out.len;
	o = put_padded(o, p->name, lname, wname);
	o = put_padded(o, p->version, lver, wver);
	o = put_padded(o, when, lwhen, 16 + 2);
	if (lsrc && !plain_text(p->source)) {
		/* the source names the registry's URL: shown escaped */
		t->out.len = (size_t)(o - t->out.ptr);
		cli_buf_add_shown(&t->out, p->source, -1);
		ipm_buf_grow(&t->out, 1);
		o = t->out.ptr + t->out.len;
		lsrc = 0;
	}
	if (lsrc)
		memcpy(o, p->source, lsrc);
	o += lsrc;
	if (p->guessed_entry) {
		/* no registry vouches for its recipe */
		memcpy(o, GUESSED_MARK, sizeof(GUESSED_MARK) - 1);
		o += sizeof(GUESSED_MARK) - 1;
	}
	if (!p->explicit_install) {
		/* installed only because another package needs it (autoremove) */
		memcpy(o, DEPENDENCY_MARK, sizeof(DEPENDENCY_MARK) - 1);
		o += sizeof(DEPENDENCY_MARK) - 1;
	}
	*o++ = '\n';
	*o = '\0';
	t->out.len = (size_t)(o - t->out.ptr);
	if (t->out.len >= 65536) {
		fwrite(t->out.ptr, 1, t->out.len, stdout);
		ipm_buf_reset(&t->out);
	}
	return 0;
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
	struct table t = { .cli = cli, .out = IPM_BUF_INIT, .clock = { -1, "" } };
	const char *opt, *value;
	int json = 0, idx = 1, r, rc;

	while ((r = cli_next_option(cli, argc, argv, &idx, NULL, &opt, &value)) != -1) {
		if (r == -2)
			return CLI_EXIT_USAGE;
		if (r == 0)
			return cli_usage_error(cli, "unexpected argument '%s'", argv[idx]);
		if (strcmp(opt, "--json") == 0)
			json = 1;
		else
			return cli_usage_error(cli, "unknown option '%s'", opt);
	}
	rc = cli_open(cli);
	if (rc < 0)
		return rc;
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		char *text;
		rc = ipm_db_package_each(cli->ctx.db, 0, add_json, arr);
		if (rc == 0) {
			text = cJSON_Print(arr);
			printf("%s\n", text);
			cJSON_free(text);
		}
		cJSON_Delete(arr);
		return rc;
	}
	rc = ipm_db_package_widths(&t.wname, &t.wver, cli->ctx.db);
	if (rc < 0)
		return rc;
	if (t.wname < 4)
		t.wname = 4;
	if (t.wver < 7)
		t.wver = 7;
	rc = ipm_db_package_each(cli->ctx.db, 1, print_row, &t);
	if (t.out.len)
		fwrite(t.out.ptr, 1, t.out.len, stdout);
	ipm_buf_release(&t.out);
	if (rc == 0 && t.n == 0 && !cli->quiet)
		fprintf(stderr, "no packages installed\n");
	return rc;
}
