/*
 * ipm_timeit: runs a command repeatedly and prints its median wall time.
 *   ipm_timeit RUNS LABEL -- COMMAND [ARG...]
 * stdout and stderr of the command go to /dev/null; a non-zero exit stops
 * the run with an error. Prints: "LABEL  median_ms  min_ms  max_ms".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs, status;
	double *times;

	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: ipm_timeit RUNS LABEL -- COMMAND [ARG...]\n");
		return 2;
	}
	runs = atoi(argv[1]);
	if (runs < 1)
		runs = 1;
	times = calloc((size_t)runs, sizeof(*times));
	if (!times)
		return 1;
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();
		pid_t pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, 1);
			dup2(null, 2);
			execvp(argv[4], argv + 4);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "ipm_timeit: '%s' failed\n", argv[2]);
			return 1;
		}
		times[i] = now_ms() - t0;
	}
	qsort(times, (size_t)runs, sizeof(*times), cmp_double);
	printf("%-44s %9.2f %9.2f %9.2f\n", argv[2], times[runs / 2], times[0], times[runs - 1]);
	free(times);
	return 0;
}
