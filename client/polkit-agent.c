/* polkit-agent.c — runs pkttyagent while esimctl waits, the way systemctl lets polkit ask. */
#include "polkit-agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define AGENT_READY_TIMEOUT_MS 10000
#define AGENT_NOTIFY_FD        3

static GPid agent_pid;

void
esimctl_polkit_agent_open (void)
{
  g_autofree char *agent = NULL;
  g_autoptr (GError) error = NULL;
  const int target_fds[] = { AGENT_NOTIFY_FD };
  int source_fds[1];
  int fds[2];
  char fd_arg[16];
  struct pollfd pfd;

  if (agent_pid > 0 || geteuid () == 0 || !isatty (STDIN_FILENO))
    return;
  agent = g_find_program_in_path ("pkttyagent");
  if (!agent)
    return;
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return;
  g_snprintf (fd_arg, sizeof fd_arg, "%d", AGENT_NOTIFY_FD);
  source_fds[0] = fds[1];
  {
    const char *argv[] = { agent, "--notify-fd", fd_arg, "--fallback", NULL };

    /* The agent asks on the terminal on our stdin, so it inherits it. Its stderr only ever
     * says that it could not register (no polkit running), which is no news to the user:
     * authorization then fails with a message of its own. */
    GSpawnFlags flags =
        G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_CHILD_INHERITS_STDIN | G_SPAWN_STDERR_TO_DEV_NULL;

    if (!g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, flags, NULL, NULL, -1, -1, -1,
                                           source_fds, target_fds, 1, &agent_pid, NULL, NULL, NULL,
                                           &error))
      {
        g_debug ("cannot start pkttyagent: %s", error->message);
        agent_pid = 0;
      }
  }
  close (fds[1]);
  if (agent_pid > 0)
    {
      /* The agent closes its end of the pipe once it is registered with polkit; asking before
       * that would find no agent. */
      pfd.fd = fds[0];
      pfd.events = POLLIN;
      while (poll (&pfd, 1, AGENT_READY_TIMEOUT_MS) < 0 && errno == EINTR)
        ;
    }
  close (fds[0]);
}

void
esimctl_polkit_agent_close (void)
{
  if (agent_pid <= 0)
    return;
  kill (agent_pid, SIGTERM);
  while (waitpid (agent_pid, NULL, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (agent_pid);
  agent_pid = 0;
}
