/* state-lock.c — one esimd per state directory: a lock on a file in it, held while esimd runs.
 *
 * Two esimds on one StateDirectory (one on a test's private bus and the system service, or one
 * started by hand beside it) would both write open-sessions/ and the learnt segment sizes, and
 * both drive the same eUICC: a clean-up could cancel the other's download. The bus name does not
 * prevent it, since the two may be on different buses. */
#include "state-lock.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_FILE "esimd.lock"

struct _EsimdStateLock
{
  char *dir;
  int fd;
};

EsimdStateLock *
esimd_state_lock_open (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, LOCK_FILE, NULL);
  EsimdStateLock *lock;
  int fd;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;

      g_warning ("cannot create the state directory %s: %s; another esimd using it would not be "
                 "noticed",
                 dir, g_strerror (saved));
      return NULL;
    }
  /* O_CLOEXEC: a qmi-proxy or mbim-proxy that libqmi/libmbim spawn must not keep it open. */
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_warning ("cannot open %s: %s; another esimd using %s would not be noticed", path,
                 g_strerror (saved), dir);
      return NULL;
    }
  lock = g_new0 (EsimdStateLock, 1);
  lock->dir = g_strdup (dir);
  lock->fd = fd;
  return lock;
}

gboolean
esimd_state_lock_try (EsimdStateLock *lock, pid_t *holder)
{
  /* Twice: the holder may let go between our F_SETLK and F_GETLK. */
  for (int attempt = 0; attempt < 2; attempt++)
    {
      struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

      if (fcntl (lock->fd, F_SETLK, &fl) == 0)
        return TRUE;
      if (errno != EACCES && errno != EAGAIN)
        {
          /* No lock to be had on this file system (EINTR, ENOLCK): it cannot tell; go on. */
          g_warning ("cannot lock %s/" LOCK_FILE ": %s; another esimd using it would not be "
                     "noticed",
                     lock->dir, g_strerror (errno));
          return TRUE;
        }
      fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
      if (fcntl (lock->fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        {
          *holder = fl.l_pid > 0 ? fl.l_pid : 0;
          return FALSE;
        }
    }
  *holder = 0;
  return FALSE;
}

void
esimd_state_lock_set_held_error (EsimdStateLock *lock, pid_t holder, GError **error)
{
  g_autofree char *who = NULL;
  g_autofree char *comm = NULL;

  if (holder > 0)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/comm", (int) holder);

      if (g_file_get_contents (path, &comm, NULL, NULL))
        g_strchomp (comm);
      who = g_strdup_printf ("pid %d%s%s", (int) holder, comm ? ", " : "", comm ? comm : "");
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
               "the state directory %s is in use by another esimd (%s): two would overwrite each "
               "other's records and drive the same eUICCs; stop that one, or give this one "
               "another StateDirectory=",
               lock->dir, who ? who : "a process in another pid namespace");
}

/* @path is esimd's alone: a directory of esimd's user that no other user may write. When
 * @follow is FALSE, @path itself must be no symbolic link. A missing one is fine: esimd creates
 * it 0700. */
static gboolean
check_own_dir (const char *path, gboolean follow, GError **error)
{
  g_autofree char *why = NULL;
  struct stat st;

  if ((follow ? stat (path, &st) : lstat (path, &st)) < 0)
    return TRUE; /* missing, or unreadable: what writes it says why */
  if (S_ISLNK (st.st_mode))
    why = g_strdup ("is a symbolic link");
  else if (!S_ISDIR (st.st_mode))
    why = g_strdup ("is no directory");
  else if (st.st_uid != geteuid ())
    why = g_strdup_printf ("belongs to uid %u, not to esimd's user (uid %u)", (guint) st.st_uid,
                           (guint) geteuid ());
  else if (st.st_mode & (S_IWGRP | S_IWOTH))
    why =
        g_strdup_printf ("may be written by other users (mode %04o)", (guint) (st.st_mode & 07777));
  else
    return TRUE;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
               "the state directory is not esimd's alone: %s %s; another user could plant the "
               "files and links esimd reads and writes there (its records of open download "
               "sessions). Make it a directory of esimd's user, mode 0700 (esimd.service's "
               "StateDirectoryMode=), or give StateDirectory= another directory",
               path, why);
  return FALSE;
}

gboolean
esimd_state_dir_check (const char *dir, GError **error)
{
  static const char *const subdirs[] = { "open-sessions", "segment-size" };

  /* StateDirectory= itself may be a link the administrator made; what esimd makes in it not. */
  if (!check_own_dir (dir, TRUE, error))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++)
    {
      g_autofree char *path = g_build_filename (dir, subdirs[i], NULL);

      if (!check_own_dir (path, FALSE, error))
        return FALSE;
    }
  return TRUE;
}

void
esimd_state_lock_free (EsimdStateLock *lock)
{
  if (!lock)
    return;
  close (lock->fd);
  g_free (lock->dir);
  g_free (lock);
}
