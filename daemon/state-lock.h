/* state-lock.h — one esimd per state directory: a lock on a file in it, held while esimd runs. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct _EsimdStateLock EsimdStateLock;

/* Opens @dir/esimd.lock, creating the directory and the file if need be. NULL, with a warning,
 * when that cannot be done (a read-only state directory: this esimd then records nothing there,
 * and runs without the lock). */
EsimdStateLock *esimd_state_lock_open (const char *dir);

/* Whether @dir (StateDirectory=) and the directories esimd keeps in it are esimd's alone: owned
 * by esimd's user, written by no other, those inside no symbolic links. Otherwise another user
 * could plant files or links that esimd reads back or writes through, and esimd must not start
 * (G_FILE_ERROR_PERM saying which and why). Missing ones are fine (made 0700). */
gboolean esimd_state_dir_check (const char *dir, GError **error);

/* Takes the lock. FALSE when another process holds it: *@holder is its pid, 0 when it cannot be
 * told (a process in another pid namespace). TRUE, with a warning, on a file system that has no
 * locks to give. The lock goes with the process (a POSIX record
 * lock): released when esimd exits or is killed, never inherited by a child it starts. */
gboolean esimd_state_lock_try (EsimdStateLock *lock, pid_t *holder);

/* The error for a lock that @holder holds: which directory, which process, what to do. */
void esimd_state_lock_set_held_error (EsimdStateLock *lock, pid_t holder, GError **error);

void esimd_state_lock_free (EsimdStateLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdStateLock, esimd_state_lock_free)

G_END_DECLS
