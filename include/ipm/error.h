#ifndef IPM_ERROR_H
#define IPM_ERROR_H
/*
 * The engine's error slot. Engine functions return 0 on success or one of the
 * negative IPM_E* codes; before returning an error they set a message (and,
 * where it helps, a hint) that the command line prints:
 *
 *     ipm: error: <message>
 *     hint: <hint>
 *
 * Messages are lower case, without a trailing period, with the subject quoted:
 *     "package 'foo' not found in any registry"
 * The engine never prints and never exits.
 */

enum ipm_status {
	IPM_OK = 0,
	IPM_ERROR = -1,      /* generic failure */
	IPM_ENOTFOUND = -2,  /* a package, file, registry or commit does not exist */
	IPM_EINVAL = -3,     /* bad input: malformed JSON, bad spec, bad entry */
	IPM_ECONFLICT = -4,  /* a prefix path owned by someone else, a dependent package */
	IPM_ELOCKED = -5,    /* another ipm holds the lock */
	IPM_ENET = -6,       /* download or fetch failed */
	IPM_EVERIFY = -7,    /* checksum or commit verification failed */
	IPM_ECANCEL = -8,    /* the user said no */
	IPM_EBUILD = -9,     /* a recipe step failed */
	IPM_EEXISTS = -10,   /* already there */
	IPM_ESTALE = -11,    /* a fetched file is not the one its index names: published meanwhile */
};

/* Sets the message (printf format) and clears the hint; returns code so that
 * callers can write `return ipm_error_set(IPM_EINVAL, "...")`. */
int ipm_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the hint for the current message. */
void ipm_error_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes the current message with "<prefix>: " (adds context on the way up). */
void ipm_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current message ("" when none), its hint (NULL when none), its code. */
const char *ipm_error_message(void);
const char *ipm_error_hint_text(void);
int ipm_error_code(void);

void ipm_error_clear(void);

/* A copy of the error slot, for keeping an error while the clean-up it
 * leads to may set (and clear) others. */
struct ipm_error_saved {
	int code;
	char *message;
	char *hint;
};
void ipm_error_save(struct ipm_error_saved *out);
/* Puts the saved error back into the slot and frees the copy; returns its
 * code. */
int ipm_error_restore(struct ipm_error_saved *saved);

#endif
