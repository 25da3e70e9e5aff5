#ifndef IPM_LOCK_H
#define IPM_LOCK_H
/*
 * One ipm at a time changes the installed state: an exclusive fcntl/flock lock
 * on $IPM_HOME/lock, which holds the owner's pid. A second ipm waits, saying
 * why once through ipm_log(IPM_LOG_WARN, "waiting for another ipm (pid N) ..."),
 * for at most IPM_LOCK_TIMEOUT seconds (environment; default 600), then fails
 * with IPM_ELOCKED "another ipm (pid N) is running" and a hint. The lock dies
 * with its process, so a killed ipm never leaves it held.
 */
struct ipm_lock;
int ipm_lock_acquire(struct ipm_lock **out, const char *path);
void ipm_lock_release(struct ipm_lock *lock);   /* accepts NULL */
/* 1 when another process holds the lock now (an ipm is changing the
 * installed state), without waiting and without taking it. */
int ipm_lock_busy(const char *path);
#endif
