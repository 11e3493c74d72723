/* SPDX-License-Identifier: MIT */
/*
 * Segments: naming, creation, validation and mapping.
 *
 * A pipe is born complete.  The creator builds the segment in an unnamed
 * tmpfs file (O_TMPFILE), reserves its pages, writes the header, sets the
 * mode and owner on the descriptor, and only then gives it its name with
 * linkat().  Nobody can open a half-built pipe, a creator that dies leaves
 * nothing behind, and of two creators racing for a name exactly one wins
 * (linkat fails with EEXIST for the other).
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash.h"
#include "internal.h"

#define SHM_DIR		"/dev/shm"
#define SHM_PREFIX	"shmpipe."

int shmpipe__check_name(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	for (n = 0; name[n]; n++) {
		char c = name[n];

		if (n == SHMPIPE_NAME_MAX)
			return -EINVAL;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return -EINVAL;
	}
	return n ? 0 : -EINVAL;
}

static void shm_name(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/" SHM_PREFIX "%s", name);
}

static int check_attr(const struct shmpipe_attr *a, uint64_t *cap,
		      mode_t *mode)
{
	size_t i;

	*cap = SHMPIPE_CAPACITY_DEFAULT;
	*mode = SHMPIPE_MODE_DEFAULT;
	if (!a)
		return 0;
	for (i = 0; i < sizeof(a->reserved) / sizeof(a->reserved[0]); i++)
		if (a->reserved[i])
			return -EINVAL;
	if (a->flags & ~(SHMPIPE_ATTR_UID | SHMPIPE_ATTR_GID))
		return -EINVAL;
	if (a->mode & ~(mode_t)0777)
		return -EINVAL;
	if (a->capacity && !shmpipe_max_message(a->capacity))
		return -EINVAL;
	if (a->capacity)
		*cap = shmpipe_max_message(a->capacity) + SHMPIPE_RECORD_HDR;
	if (a->mode)
		*mode = a->mode;
	return 0;
}

/* The pages are zero: every lock is free, every slot empty. */
static void init_header(struct shmpipe_shared *sh, uint64_t cap)
{
	sh->sh_version = SHMPIPE_LAYOUT_VERSION;
	sh->sh_abi = shmpipe_abi_word();
	sh->sh_capacity = cap;
	sh->sh_seg_size = SHMPIPE_HDR_SIZE + cap;
	sh->sh_hdr_size = SHMPIPE_HDR_SIZE;
	sh->sh_slots = SHMPIPE_SLOTS;
	sh->sh_created_ns = shmpipe__realtime_ns();
	sh->sh_creator_pid = (uint32_t)getpid();
	sh->sh_creator_uid = (uint32_t)getuid();

	/* Pairs with the acquire in check_identity(). */
	sh_store_release(&sh->sh_magic, SHMPIPE_MAGIC);
}

/* Fill the new file: pages reserved, header written, mode and owner set. */
static int build(int fd, uint64_t cap, mode_t mode,
		 const struct shmpipe_attr *a)
{
	size_t size = SHMPIPE_HDR_SIZE + cap;
	void *map;
	int rc;

	/* tmpfs reserves nothing at ftruncate: a full /dev/shm would be a
	 * SIGBUS at first touch.  posix_fallocate turns it into ENOSPC. */
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc)
		return -rc;
	if (fchmod(fd, mode) < 0)
		return -errno;
	if (a && (a->flags & (SHMPIPE_ATTR_UID | SHMPIPE_ATTR_GID)) &&
	    fchown(fd, (a->flags & SHMPIPE_ATTR_UID) ? a->uid : (uid_t)-1,
		   (a->flags & SHMPIPE_ATTR_GID) ? a->gid : (gid_t)-1) < 0)
		return -errno;

	map = mmap(NULL, SHMPIPE_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	SHMPIPE_CRASH("create.header");
	init_header(map, cap);
	munmap(map, SHMPIPE_HDR_SIZE);
	return 0;
}

/* Give the finished file its name; EEXIST if the name is taken. */
static int publish(int fd, const char *name)
{
	char src[64], dst[sizeof(SHM_DIR) + sizeof(SHM_PREFIX) +
			  SHMPIPE_NAME_MAX + 2];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	snprintf(dst, sizeof(dst), SHM_DIR "/" SHM_PREFIX "%s", name);
	if (linkat(AT_FDCWD, src, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	/* No /proc: the same, without it, needs CAP_DAC_READ_SEARCH. */
	if (linkat(fd, "", AT_FDCWD, dst, AT_EMPTY_PATH) == 0)
		return 0;
	return -errno;
}

int shmpipe_create(const char *name, const struct shmpipe_attr *attr)
{
	uint64_t cap;
	mode_t mode;
	int fd, r;

	r = shmpipe__check_name(name);
	if (!r)
		r = check_attr(attr, &cap, &mode);
	if (r)
		return r;

	fd = open(SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	SHMPIPE_CRASH("create.open");
	r = build(fd, cap, mode, attr);
	SHMPIPE_CRASH("create.built");
	if (!r)
		r = publish(fd, name);
	close(fd);
	return r;
}

int shmpipe_unlink(const char *name)
{
	char path[SHMPIPE_NAME_MAX + 16];
	int r;

	r = shmpipe__check_name(name);
	if (r)
		return r;
	shm_name(path, sizeof(path), name);
	return shm_unlink(path) < 0 ? -errno : 0;
}

/* Is this header one of ours, of this format, with sane sizes? */
static int check_identity(const struct shmpipe_shared *id, off_t file_size)
{
	uint64_t cap = id->sh_capacity;

	if (__atomic_load_n(&id->sh_magic, __ATOMIC_ACQUIRE) != SHMPIPE_MAGIC)
		return -EPROTO;
	if (id->sh_version != SHMPIPE_LAYOUT_VERSION ||
	    id->sh_abi != shmpipe_abi_word() ||
	    id->sh_hdr_size != SHMPIPE_HDR_SIZE ||
	    id->sh_slots != SHMPIPE_SLOTS)
		return -EPROTO;
	if (cap < SHMPIPE_CAPACITY_MIN || cap > SHMPIPE_CAPACITY_MAX ||
	    (cap & (cap - 1)))
		return -EPROTO;
	if (id->sh_seg_size != SHMPIPE_HDR_SIZE + cap ||
	    (uint64_t)file_size != id->sh_seg_size)
		return -EPROTO;
	return 0;
}

/*
 * Map an existing pipe for e.  The identity line is read with pread into
 * private memory first, so a short or foreign file is refused without
 * ever touching a mapping that could fault.  The mapping is preceded by
 * its private shadow (robust.c): both are made as one private region,
 * whose upper part the segment then replaces.
 */
int shmpipe__map(const char *name, struct shmpipe__end *e)
{
	char path[SHMPIPE_NAME_MAX + 16];
	struct shmpipe_shared id;
	struct stat st;
	uint8_t *base;
	void *map;
	int fd, r;

	shm_name(path, sizeof(path), name);
	fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;

	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (!r && (!S_ISREG(st.st_mode) || st.st_size < SHMPIPE_HDR_SIZE))
		r = -EPROTO;
	if (!r && pread(fd, &id, SHMPIPE_CACHELINE, 0) != SHMPIPE_CACHELINE)
		r = -EPROTO;
	if (!r)
		r = check_identity(&id, st.st_size);
	if (r)
		goto out;

	shmpipe__fault_guard();
	base = mmap(NULL, SHMPIPE_SHADOW + id.sh_seg_size,
		    PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	map = mmap(base + SHMPIPE_SHADOW, id.sh_seg_size,
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		munmap(base, SHMPIPE_SHADOW + id.sh_seg_size);
		goto out;
	}
	e->e_broken = 0;
	e->e_map_size = id.sh_seg_size;
	e->e_cap = id.sh_capacity;
	e->e_mask = id.sh_capacity - 1;
	e->e_ring = (uint8_t *)map + SHMPIPE_HDR_SIZE;
	/* Seen by the fault handler before anything touches the map. */
	__atomic_store_n(&e->e_sh, map, __ATOMIC_RELEASE);
out:
	close(fd);
	return r;
}

void shmpipe__unmap(struct shmpipe__end *e)
{
	uint8_t *map = (uint8_t *)e->e_sh;

	if (!map)
		return;
	__atomic_store_n(&e->e_sh, NULL, __ATOMIC_RELEASE);
	e->e_ring = NULL;
	shmpipe__robust_forget(map - SHMPIPE_SHADOW, SHMPIPE_SHADOW);
	munmap(map - SHMPIPE_SHADOW, SHMPIPE_SHADOW + e->e_map_size);
}

/*
 * A segment shrunk under its users.  Touching a page past the end of the
 * file raises SIGBUS.  If the fault is in one of this process's mappings,
 * the handler puts private zero pages over the rest of that mapping and
 * marks the endpoint broken: the faulting access completes on zeros, and
 * every call on the endpoint from then on fails with -EPROTO (ring.c
 * looks at e_broken).  Pages before the fault are still in the file and
 * stay shared, so the endpoint can still leave the pipe properly.  Only
 * whole pages are lost, so a file that shrinks by less than a page, or
 * grows back before a lost page is touched, is not noticed: that reads
 * as zeros written by the other process.
 *
 * Any other SIGBUS goes to the handler that was there before, or gets
 * what it would have got without us: the default action, or nothing if
 * it was ignored and not a fault.  A SIGBUS sent with kill() or
 * sigqueue() (si_code <= 0) is never taken for a fault of ours, whatever
 * address it claims.  The handler a program installed after ours may
 * chain to ours, and ours (put back at the next open) to it: the same
 * signal coming back to ours ends the loop with the default action.  (shmpipe__fault_guard() installs it.)
 */
static struct sigaction old_sigbus;
static uintptr_t page_size;
static pthread_mutex_t guard_mu = PTHREAD_MUTEX_INITIALIZER;
/* The signal being passed down the chain on this thread: if it comes
 * back (same siginfo), the chain is a loop.  A handler down the chain
 * that jumps out leaves it set, which matters only if a later signal's
 * siginfo lands at the very same address. */
static __thread siginfo_t *chain_si __attribute__((tls_model("initial-exec")));

static int fault_of_ours(siginfo_t *si)
{
	uintptr_t a = (uintptr_t)si->si_addr, sh, end, page;
	int i;

	if (si->si_code <= 0)
		return 0;
	for (i = 0; i < SHMPIPE_HANDLES_MAX; i++) {
		struct shmpipe__end *e = &shmpipe__table[i];

		sh = (uintptr_t)__atomic_load_n(&e->e_sh, __ATOMIC_ACQUIRE);
		end = sh + e->e_map_size;
		if (!sh || a < sh || a >= end)
			continue;
		page = a & ~(page_size - 1);
		if (mmap((void *)page, end - page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			return 0;
		__atomic_store_n(&e->e_broken, 1, __ATOMIC_RELEASE);
		return 1;
	}
	return 0;
}

static void default_action(void)
{
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);		/* delivered when the handler returns */
}

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	int saved = errno;

	if (fault_of_ours(si)) {
		/* done: the access completes on zeros */
	} else if (chain_si == si) {
		default_action();	/* the chain came back to us */
	} else {
		chain_si = si;
		if (old_sigbus.sa_flags & SA_SIGINFO)
			old_sigbus.sa_sigaction(sig, si, ctx);
		else if (old_sigbus.sa_handler == SIG_IGN && si->si_code <= 0)
			;	/* ignored, and not a fault: as before */
		else if (old_sigbus.sa_handler == SIG_DFL ||
			 old_sigbus.sa_handler == SIG_IGN)
			default_action();	/* a fault kills even if ignored */
		else
			old_sigbus.sa_handler(sig);
		chain_si = NULL;
	}
	errno = saved;
}

/*
 * Install the handler, chaining to the one there now, unless it is
 * already ours.  Called at every open, so that a handler the program
 * installed after an earlier open (without chaining to ours) does not
 * leave a new pipe unguarded.
 */
void shmpipe__fault_guard(void)
{
	struct sigaction sa, now;

	pthread_mutex_lock(&guard_mu);
	if (sigaction(SIGBUS, NULL, &now) == 0 &&
	    !((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_sigbus)) {
		page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
		old_sigbus = now;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
	}
	pthread_mutex_unlock(&guard_mu);
}

/* In a forked child, where another thread may have held it. */
void shmpipe__fault_after_fork(void)
{
	pthread_mutex_init(&guard_mu, NULL);
}
