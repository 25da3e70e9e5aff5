/*
 * ipm list: installed packages as a table, or one JSON document.
 *
 * Rows come from the database one at a time (ipm_db_package_each) without a
 * copy of each field: the table keeps the three strings it prints in one
 * buffer (the column widths need every row first) and is written with a
 * few large writes instead of a printf a row.
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
	cJSON_AddItemToArray(ctx, o);
	return 0;
}

struct table {
	struct ipm_buf text;      /* per row: name NUL version NUL source NUL */
	size_t *offs;
	long long *times;
	size_t n, alloc_offs, alloc_times, wname, wver;
};

static int add_row(void *ctx, const struct ipm_package_row *p)
{
	struct table *t = ctx;
	const char *source = p->source ? p->source : "";
	size_t lname = strlen(p->name), lver = strlen(p->version);

	XGROW(t->offs, t->alloc_offs, t->n + 1);
	XGROW(t->times, t->alloc_times, t->n + 1);
	t->offs[t->n] = t->text.len;
	t->times[t->n] = (long long)p->installed_at;
	ipm_buf_addn(&t->text, p->name, lname + 1);
	ipm_buf_addn(&t->text, p->version, lver + 1);
	ipm_buf_addn(&t->text, source, strlen(source) + 1);
	if (lname > t->wname)
		t->wname = lname;
	if (lver > t->wver)
		t->wver = lver;
	t->n++;
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

static void add_padded(struct ipm_buf *out, const char *s, size_t len, size_t width)
{
	ipm_buf_grow(out, width > len ? width : len);
	ipm_buf_addn(out, s, len);
	for (; len < width; len++)
		out->ptr[out->len++] = ' ';
	out->ptr[out->len] = '\0';
}

static void print_table(struct cli *cli, struct table *t)
{
	struct ipm_buf out = IPM_BUF_INIT;
	struct clock_cache clock = { -1, "" };

	printf("%s%-*s  %-*s  %-16s  %s%s\n", cli_bold(cli), (int)t->wname, "NAME", (int)t->wver,
	       "VERSION", "INSTALLED", "SOURCE", cli_reset(cli));
	for (size_t i = 0; i < t->n; i++) {
		const char *name = t->text.ptr + t->offs[i];
		size_t lname = strlen(name);
		const char *version = name + lname + 1;
		size_t lver = strlen(version);
		const char *source = version + lver + 1;
		const char *when = fast_time(&clock, t->times[i]);

		add_padded(&out, name, lname, t->wname + 2);
		add_padded(&out, version, lver, t->wver + 2);
		add_padded(&out, when, strlen(when), 16 + 2);
		ipm_buf_add(&out, source);
		ipm_buf_addch(&out, '\n');
		if (out.len >= 65536) {
			fwrite(out.ptr, 1, out.len, stdout);
			ipm_buf_reset(&out);
		}
	}
	if (out.len)
		fwrite(out.ptr, 1, out.len, stdout);
	ipm_buf_release(&out);
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
	struct table t = { .text = IPM_BUF_INIT, .wname = 4, .wver = 7 };
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
		rc = ipm_db_package_each(cli->ctx.db, add_json, arr);
		if (rc == 0) {
			text = cJSON_Print(arr);
			printf("%s\n", text);
			cJSON_free(text);
		}
		cJSON_Delete(arr);
		return rc;
	}
	rc = ipm_db_package_each(cli->ctx.db, add_row, &t);
	if (rc < 0)
		goto done;
	if (t.n == 0) {
		if (!cli->quiet)
			fprintf(stderr, "no packages installed\n");
		goto done;
	}
	print_table(cli, &t);
done:
	ipm_buf_release(&t.text);
	free(t.offs);
	free(t.times);
	return rc;
}
