#ifndef IPM_INTERRUPT_H
#define IPM_INTERRUPT_H
#include <sys/types.h>
/*
 * Ctrl-C (SIGINT), SIGTERM and SIGHUP: caught, never fatal, so that every
 * stage (resolving, fetching, building, committing) stops at its next check
 * and undoes what it started. The command line decides the exit status
 * (130) from ipm_interrupted().
 *
 * A recipe step runs under a guardian process (see install.c): the handler
 * sends it SIGTERM, and it takes the step's whole process group down.
 */

/* Installs the handlers (idempotent). Without SA_RESTART: a blocking read
 * of a confirmation returns, and is taken as "no". */
void ipm_interrupt_catch(void);
/* The signal received since start-up, or 0. */
int ipm_interrupted(void);
/* IPM_ECANCEL "interrupted" (message set) once a signal arrived, else 0:
 * for `if ((rc = ipm_interrupt_check()) < 0) goto done;` between stages. */
int ipm_interrupt_check(void);
/* The process the handler forwards SIGTERM to (0: none). */
void ipm_interrupt_set_child(pid_t pid);
#endif
