/*
 * The ipm program's side of the fetch layer (see fetch_layer.h): each
 * function of the layer, under its usual name, loads ipm-fetch.so on its
 * first call and passes the call on. Linked into the ipm program only (not
 * into libipm.a, which holds the layer itself).
 *
 * ipm-fetch.so is looked for next to the program (the build directory),
 * then in <program dir>/../lib/ipm (where `make install` puts it), as the
 * bundled registry is. It is never unloaded: what it allocated may still
 * be in use at exit.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipm/error.h"
#include "ipm/xalloc.h"
#include "fetch_layer.h"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct ipm_fetch_layer *layer;
static char *load_error;   /* why the layer cannot be used, when it cannot */
static char *load_hint;

static void load_failed(char *msg, char *hint)
{
	load_error = msg;
	load_hint = hint;
}

static void load(void)
{
	char *exe = realpath("/proc/self/exe", NULL), *slash, *path = NULL;
	const struct ipm_fetch_layer *l;
	void *so;

	if (!exe || !(slash = strrchr(exe, '/'))) {
		load_failed(xstrdup("cannot find the ipm program's directory to load ipm-fetch.so"),
			    xstrdup("is /proc mounted?"));
		goto done;
	}
	*slash = '\0';
	path = xasprintf("%s/ipm-fetch.so", exe);
	if (access(path, F_OK) < 0) {
		free(path);
		path = xasprintf("%s/../lib/ipm/ipm-fetch.so", exe);
	}
	so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		load_failed(xasprintf("cannot load the fetch layer: %s", dlerror()),
			    xasprintf("ipm needs '%s' to fetch and install; reinstall ipm (make install)", path));
		goto done;
	}
	l = dlsym(so, "ipm_fetch_layer");
	if (!l || strcmp(l->sig, IPM_FETCH_LAYER_SIG) != 0) {
		load_failed(xasprintf("cannot load the fetch layer: '%s' belongs to another version of ipm", path),
			    xstrdup("reinstall ipm (make install), so that the program and its "
				    "lib/ipm/ipm-fetch.so come from one build"));
		goto done;
	}
	/* the layer starts libgit2 and libcurl once, here */
	if (l->init() < 0) {
		load_failed(xstrdup(ipm_error_message()),
			    ipm_error_hint_text() ? xstrdup(ipm_error_hint_text()) : NULL);
		goto done;
	}
	layer = l;
done:
	free(path);
	free(exe);
}

/* The layer, loaded and initialised; NULL with the error slot set. */
static const struct ipm_fetch_layer *get(void)
{
	pthread_once(&load_once, load);
	if (!layer) {
		ipm_error_set(IPM_ERROR, "%s", load_error);
		if (load_hint)
			ipm_error_hint("%s", load_hint);
	}
	return layer;
}

/* For the functions that cannot return an error: without the layer ipm
 * cannot go on, as when the dynamic linker misses a library. */
static const struct ipm_fetch_layer *must_get(void)
{
	const struct ipm_fetch_layer *l = get();

	if (!l) {
		fprintf(stderr, "ipm: error: %s\n", ipm_error_message());
		if (ipm_error_hint_text())
			fprintf(stderr, "hint: %s\n", ipm_error_hint_text());
		exit(1);
	}
	return l;
}

int ipm_fetch_init(void)
{
	return 0;
}

void ipm_fetch_shutdown(void)
{
	if (layer)
		layer->shutdown();
}

#define CALL_INT(name, params, args) \
	int name params \
	{ \
		const struct ipm_fetch_layer *l = get(); \
		return l ? l->name args : ipm_error_code(); \
	}
#define CALL_PTR(type, name, params, args) \
	type name params \
	{ \
		return must_get()->name args; \
	}
#define CALL_VOID(name, params, args) \
	void name params \
	{ \
		must_get()->name args; \
	}

IPM_FETCH_LAYER(CALL_INT, CALL_PTR, CALL_VOID)
