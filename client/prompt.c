/* prompt.c — y/N questions and secrets typed without echo or read from a file, never from argv. */
#include "prompt.h"

#include "errors.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* One line from @in without its newline; NULL at end of input. Zeroes getline's buffer, which
 * may hold a secret. *@nul (if not NULL) tells whether the line held a NUL byte: a C string would
 * end there, and what followed would be lost without a word. A leading UTF-8 byte order mark
 * (editors write one) is dropped like white space. */
static char *
read_line_checked (FILE *in, gboolean *nul)
{
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n = getline (&buf, &cap, in);
  char *line = NULL;

  if (nul)
    *nul = n > 0 && memchr (buf, 0, (size_t) n) != NULL;
  if (n >= 0)
    {
      /* Trim before copying, so no stray copy of the secret is left after the string's end. */
      const char *start = buf, *end = buf + n;

      if (n >= 3 && memcmp (buf, "\xEF\xBB\xBF", 3) == 0)
        start += 3;
      while (start < end && g_ascii_isspace (*start))
        start++;
      while (end > start && g_ascii_isspace (end[-1]))
        end--;
      line = g_strndup (start, (gsize) (end - start));
    }
  if (buf)
    {
      explicit_bzero (buf, cap);
      free (buf);
    }
  return line;
}

static char *
read_line (FILE *in)
{
  return read_line_checked (in, NULL);
}

gboolean
esimctl_prompt_yes_no (const char *question)
{
  g_autofree char *answer = NULL;

  fprintf (stderr, "%s [y/N] ", question);
  fflush (stderr);
  answer = read_line (stdin);
  if (!answer)
    fputc ('\n', stderr);
  return answer &&
         (g_ascii_strcasecmp (answer, "y") == 0 || g_ascii_strcasecmp (answer, "yes") == 0);
}

/* Echo is off while a secret is typed; a Ctrl-C then must not leave the terminal that way. */
static struct termios saved_termios;

static void
restore_and_reraise (int sig)
{
  tcsetattr (STDIN_FILENO, TCSANOW, &saved_termios);
  signal (sig, SIG_DFL);
  raise (sig);
}

char *
esimctl_prompt_secret (const char *question, GError **error)
{
  struct termios quiet;
  struct sigaction on_signal = { .sa_handler = restore_and_reraise }, old_int, old_term;
  gboolean echo_off = FALSE;
  char *answer;

  /* Echo goes off before the question appears, so nothing typed in answer is ever shown; the
   * change does not flush, so nothing typed ahead is lost either. */
  if (tcgetattr (STDIN_FILENO, &saved_termios) == 0)
    {
      sigemptyset (&on_signal.sa_mask);
      sigaction (SIGINT, &on_signal, &old_int);
      sigaction (SIGTERM, &on_signal, &old_term);
      quiet = saved_termios;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      quiet.c_lflag |= ECHONL;
      echo_off = tcsetattr (STDIN_FILENO, TCSANOW, &quiet) == 0;
    }
  fprintf (stderr, "%s: ", question);
  fflush (stderr);
  answer = read_line (stdin);
  if (echo_off)
    {
      tcsetattr (STDIN_FILENO, TCSANOW, &saved_termios);
      sigaction (SIGINT, &old_int, NULL);
      sigaction (SIGTERM, &old_term, NULL);
    }
  if (!answer || !*answer)
    {
      lpa_secret_free (answer);
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_CANCELLED, "nothing entered");
      return NULL;
    }
  return answer;
}

char *
esimctl_read_secret_file (const char *path, const char *what, GError **error)
{
  FILE *in = g_str_equal (path, "-") ? stdin : fopen (path, "re");
  const char *source = g_str_equal (path, "-") ? "standard input" : path;
  gboolean nul = FALSE;
  char *line;

  if (!in)
    {
      int saved = errno;

      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "cannot read the %s from %s: %s", what,
                   path, g_strerror (saved));
      return NULL;
    }
  line = read_line_checked (in, &nul);
  if (in != stdin)
    fclose (in);
  if (nul)
    {
      lpa_secret_free (line);
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "%s: the %s holds a NUL byte", source,
                   what);
      return NULL;
    }
  if (!line || !*line)
    {
      lpa_secret_free (line);
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "%s: no %s in it", source, what);
      return NULL;
    }
  return line;
}
