/*
 * skiff-init: pid 1 for containers run with `skiff run --init`.
 *
 * A process that is pid 1 of a pid namespace gets no default signal
 * handlers and inherits every orphan of the namespace. Most programs are
 * not written for that: SIGTERM does nothing, zombies pile up. This init
 * starts the command as its only child, passes every signal it gets on to
 * it, reaps whatever exits, and when the command exits, exits the same way.
 *
 * Static and tiny, so that it runs in any image: it is bind-mounted into
 * the container read-only.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	sigset_t all, old;
	pid_t child;

	if (argc < 2) {
		fprintf(stderr, "skiff-init: usage: skiff-init COMMAND [ARG...]\n");
		return 125;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child < 0) {
		perror("skiff-init: fork");
		return 125;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(argv[1], argv + 1);
		fprintf(stderr, "skiff-init: %s: %s\n", argv[1], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&all, &info);

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == child)
				return exit_code(status);
		}
	}
}
