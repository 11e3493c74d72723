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

static int init_mutex(union shmpipe_mutex *m)
{
	pthread_mutexattr_t ma;
	int rc;

	rc = pthread_mutexattr_init(&ma);
	if (!rc)
		rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(&m->m, &ma);
	pthread_mutexattr_destroy(&ma);
	return shmpipe__from_pthread(rc);
}

static int init_header(struct shmpipe_shared *sh, uint64_t cap)
{
	int i, r;

	r = init_mutex(&sh->sh_ctl);
	for (i = 0; !r && i < SHMPIPE_SLOTS; i++) {
		r = init_mutex(&sh->sh_readers[i].sl_live);
		if (!r)
			r = init_mutex(&sh->sh_writers[i].sl_live);
	}
	if (r)
		return r;

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
	return 0;
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
	rc = init_header(map, cap);
	munmap(map, SHMPIPE_HDR_SIZE);
	return rc;
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
 * ever touching a mapping that could fault.
 */
int shmpipe__map(const char *name, struct shmpipe__end *e)
{
	char path[SHMPIPE_NAME_MAX + 16];
	struct shmpipe_shared id;
	struct stat st;
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

	map = mmap(NULL, id.sh_seg_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	e->e_sh = map;
	e->e_map_size = id.sh_seg_size;
	e->e_cap = id.sh_capacity;
	e->e_mask = id.sh_capacity - 1;
	e->e_ring = (uint8_t *)map + SHMPIPE_HDR_SIZE;
out:
	close(fd);
	return r;
}

void shmpipe__unmap(struct shmpipe__end *e)
{
	if (e->e_sh)
		munmap(e->e_sh, e->e_map_size);
	e->e_sh = NULL;
	e->e_ring = NULL;
}
