/*
 * The interrupt flag: set by the handler, read between stages and by the
 * fetch layer's progress callbacks (which stop a transfer with it).
 */
#include <signal.h>
#include <string.h>

#include "ipm/error.h"
#include "ipm/interrupt.h"

static volatile sig_atomic_t received;
static volatile pid_t child;
static int caught;

static void on_signal(int sig)
{
	received = sig;
	if (child > 0)
		kill(child, SIGTERM);
}

void ipm_interrupt_catch(void)
{
	struct sigaction sa;

	if (caught)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	caught = 1;
}

int ipm_interrupted(void)
{
	return received;
}

int ipm_interrupt_check(void)
{
	if (!received)
		return 0;
	ipm_error_set(IPM_ECANCEL, "interrupted (%s)", received == SIGINT ? "Ctrl-C" :
		      received == SIGTERM ? "SIGTERM" : "SIGHUP");
	ipm_error_hint("nothing was changed: what this command had started was undone");
	return IPM_ECANCEL;
}

void ipm_interrupt_set_child(pid_t pid)
{
	child = pid;
}
