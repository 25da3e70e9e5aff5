/*
 * The ipm program's side of the layers (see layer.h): each function of a
 * layer, under its usual name, loads the layer's shared object on its
 * first call and passes the call on. Linked into the ipm program only (not
 * into libipm.a, which holds the layers themselves).
 *
 * A layer is looked for next to the program (the build directory), then in
 * <program dir>/../lib/ipm (where `make install` puts it), as the bundled
 * registry is. It is never unloaded: what it allocated may still be in use
 * at exit.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipm/error.h"
#include "ipm/xalloc.h"
#include "layer.h"

struct layer {
	const char *file;        /* "ipm-fetch.so" */
	const char *symbol;      /* its table, "ipm_fetch_layer" */
	const char *sig;         /* what the table's sig must say */
	int (*start)(const void *table); /* NULL: nothing to start */
	const void *table;       /* once loaded and started */
	char *error;             /* why it cannot be used, when it cannot */
	char *hint;
};

static void load(struct layer *ly)
{
	char *exe = realpath("/proc/self/exe", NULL), *slash, *path = NULL;
	const void *table;
	void *so;

	if (!exe || !(slash = strrchr(exe, '/'))) {
		ly->error = xasprintf("cannot find the ipm program's directory to load %s", ly->file);
		ly->hint = xstrdup("is /proc mounted?");
		goto done;
	}
	*slash = '\0';
	path = xasprintf("%s/%s", exe, ly->file);
	if (access(path, F_OK) < 0) {
		free(path);
		path = xasprintf("%s/../lib/ipm/%s", exe, ly->file);
	}
	so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		ly->error = xasprintf("cannot load a part of ipm: %s", dlerror());
		ly->hint = xasprintf("ipm needs '%s' for this command; reinstall ipm (make install)", path);
		goto done;
	}
	table = dlsym(so, ly->symbol);
	if (!table || strcmp(*(const char *const *)table, ly->sig) != 0) {
		ly->error = xasprintf("cannot load a part of ipm: '%s' belongs to another version of ipm", path);
		ly->hint = xasprintf("reinstall ipm (make install), so that the program and its "
				     "lib/ipm/%s come from one build", ly->file);
		goto done;
	}
	if (ly->start && ly->start(table) < 0) {
		ly->error = xstrdup(ipm_error_message());
		ly->hint = ipm_error_hint_text() ? xstrdup(ipm_error_hint_text()) : NULL;
		goto done;
	}
	ly->table = table;
done:
	free(path);
	free(exe);
}

/* ly's table, loaded and started once (once: ly's pthread_once); NULL with
 * the error slot set. */
static const void *get(struct layer *ly, pthread_once_t *once, void (*load_it)(void))
{
	pthread_once(once, load_it);
	if (!ly->table) {
		ipm_error_set(IPM_ERROR, "%s", ly->error);
		if (ly->hint)
			ipm_error_hint("%s", ly->hint);
	}
	return ly->table;
}

/* For the functions that cannot return an error: without the layer ipm
 * cannot go on, as when the dynamic linker misses a library. */
static const void *must(const void *table)
{
	if (!table) {
		fprintf(stderr, "ipm: error: %s\n", ipm_error_message());
		if (ipm_error_hint_text())
			fprintf(stderr, "hint: %s\n", ipm_error_hint_text());
		exit(1);
	}
	return table;
}

/* ---- ipm-fetch.so: the layer starts libgit2 and libcurl once, here ---- */

static int start_fetch(const void *table)
{
	return ((const struct ipm_fetch_layer *)table)->init();
}

static struct layer fetch = {
	"ipm-fetch.so", "ipm_fetch_layer", IPM_LAYER_SIG(IPM_FETCH_LAYER), start_fetch,
	NULL, NULL, NULL
};
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void load_fetch(void)
{
	load(&fetch);
}

static const struct ipm_fetch_layer *get_fetch(void)
{
	return get(&fetch, &fetch_once, load_fetch);
}

int ipm_fetch_init(void)
{
	return 0;
}

void ipm_fetch_shutdown(void)
{
	if (fetch.table)
		((const struct ipm_fetch_layer *)fetch.table)->shutdown();
}

/* ---- ipm-digest.so ---- */

static struct layer digest = {
	"ipm-digest.so", "ipm_digest_layer", IPM_LAYER_SIG(IPM_DIGEST_LAYER), NULL,
	NULL, NULL, NULL
};
static pthread_once_t digest_once = PTHREAD_ONCE_INIT;

static void load_digest(void)
{
	load(&digest);
}

static const struct ipm_digest_layer *get_digest(void)
{
	return get(&digest, &digest_once, load_digest);
}

/* ---- the functions, from the lists (TABLE: the layer's table type, GET:
 * the function that loads it) ---- */

#define CALL_INT(name, params, args) \
	int name params \
	{ \
		const TABLE *l = GET(); \
		return l ? l->name args : ipm_error_code(); \
	}
#define CALL_PTR(type, name, params, args) \
	type name params \
	{ \
		return ((const TABLE *)must(GET()))->name args; \
	}
#define CALL_VOID(name, params, args) \
	void name params \
	{ \
		((const TABLE *)must(GET()))->name args; \
	}

#define TABLE struct ipm_fetch_layer
#define GET get_fetch
IPM_FETCH_LAYER(CALL_INT, CALL_PTR, CALL_VOID)
#undef TABLE
#undef GET

#define TABLE struct ipm_digest_layer
#define GET get_digest
IPM_DIGEST_LAYER(CALL_INT, CALL_PTR, CALL_VOID)
#undef TABLE
#undef GET
