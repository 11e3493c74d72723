/* SPDX-License-Identifier: MIT */
/*
 * The configuration parser.  It is strict on purpose: an unknown key, a
 * key given twice or a value that does not parse is an error naming the
 * file and line, because a daemon that guesses would create a pipe with
 * an owner or mode nobody asked for.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#define SEEN_CAPACITY	0x01u
#define SEEN_USER	0x02u
#define SEEN_GROUP	0x04u
#define SEEN_MODE	0x08u
#define SEEN_ON_FINISH	0x10u

struct parser {
	struct conf *c;
	const char *file;	/* the file being read, owned by c */
	int line;
	struct pipe_conf *cur;	/* the open [pipe] section, or NULL */
	unsigned int seen;	/* SEEN_* keys of the open section */
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Names as the library takes them: 1 to SHMPIPE_NAME_MAX of [A-Za-z0-9._-]. */
static int valid_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	return n > 0 && n <= SHMPIPE_NAME_MAX && s[n] == '\0';
}

size_t conf_parse_size(const char *s)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return 0;
	while (*end == ' ' || *end == '\t')
		end++;
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = 1ULL << 10; end++; break;
	case 'M': mult = 1ULL << 20; end++; break;
	case 'G': mult = 1ULL << 30; end++; break;
	}
	if (mult > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end || v > SIZE_MAX / mult)
		return 0;
	return (size_t)(v * mult);
}

/* A user or group: all digits is an id, anything else a name to look up. */
static int parse_id(const char *s, unsigned long *id)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*id = strtoul(s, &end, 10);
	return errno || *end || *id >= UINT_MAX ? -1 : 0;
}

static int set_capacity(struct parser *p, const char *v)
{
	size_t cap = conf_parse_size(v);

	if (!cap)
		return fail(p, "capacity '%s' is not a size (e.g. 65536, 64K, 4M)",
			    v);
	if (!shmpipe_max_message(cap))
		return fail(p, "capacity '%s' is out of range (%luK to %luM)",
			    v, SHMPIPE_CAPACITY_MIN >> 10,
			    SHMPIPE_CAPACITY_MAX >> 20);
	p->cur->capacity = cap;
	return 0;
}

static int set_user(struct parser *p, const char *v)
{
	struct passwd *pw;
	unsigned long id;

	if (parse_id(v, &id) == 0) {
		p->cur->uid = (uid_t)id;
		return 0;
	}
	pw = getpwnam(v);
	if (!pw)
		return fail(p, "unknown user '%s'", v);
	p->cur->uid = pw->pw_uid;
	return 0;
}

static int set_group(struct parser *p, const char *v)
{
	struct group *gr;
	unsigned long id;

	if (parse_id(v, &id) == 0) {
		p->cur->gid = (gid_t)id;
		return 0;
	}
	gr = getgrnam(v);
	if (!gr)
		return fail(p, "unknown group '%s'", v);
	p->cur->gid = gr->gr_gid;
	return 0;
}

static int set_mode(struct parser *p, const char *v)
{
	unsigned long m;
	char *end;

	errno = 0;
	m = strtoul(v, &end, 8);
	if (!*v || *end || errno || !isdigit((unsigned char)*v))
		return fail(p, "mode '%s' is not an octal number", v);
	if (m > 0777)
		return fail(p, "mode '%s' has bits beyond 0777", v);
	if (m == 0)
		return fail(p, "mode 0000 would let nobody use the pipe");
	p->cur->mode = (mode_t)m;
	return 0;
}

static int set_on_finish(struct parser *p, const char *v)
{
	if (strcmp(v, "recreate") == 0)
		p->cur->on_finish = ON_FINISH_RECREATE;
	else if (strcmp(v, "keep") == 0)
		p->cur->on_finish = ON_FINISH_KEEP;
	else
		return fail(p, "on-finish '%s': expected recreate or keep", v);
	return 0;
}

static const struct key {
	const char *name;
	unsigned int bit;
	int (*set)(struct parser *p, const char *v);
} keys[] = {
	{ "capacity", SEEN_CAPACITY, set_capacity },
	{ "user", SEEN_USER, set_user },
	{ "group", SEEN_GROUP, set_group },
	{ "mode", SEEN_MODE, set_mode },
	{ "on-finish", SEEN_ON_FINISH, set_on_finish },
};

/* Close the open section: the checks that need all of its keys. */
static int end_section(struct parser *p)
{
	if (p->cur && !(p->seen & SEEN_CAPACITY)) {
		p->line = p->cur->line;
		return fail(p, "pipe %s: capacity is required", p->cur->name);
	}
	p->cur = NULL;
	p->seen = 0;
	return 0;
}

static int add_pipe(struct parser *p, const char *name)
{
	const struct pipe_conf *old = conf_find(p->c, name);
	struct pipe_conf *v;

	if (old)
		return fail(p, "pipe %s is already declared at %s:%d", name,
			    old->file, old->line);
	v = realloc(p->c->pipes, (p->c->npipes + 1) * sizeof(*v));
	if (!v)
		return fail(p, "out of memory");
	p->c->pipes = v;
	p->cur = &v[p->c->npipes++];
	memset(p->cur, 0, sizeof(*p->cur));
	snprintf(p->cur->name, sizeof(p->cur->name), "%s", name);
	p->cur->mode = SHMPIPE_MODE_DEFAULT;
	p->cur->uid = geteuid();
	p->cur->gid = getegid();
	p->cur->on_finish = ON_FINISH_RECREATE;
	p->cur->file = p->file;
	p->cur->line = p->line;
	return 0;
}

/* "[pipe NAME]" */
static int parse_section(struct parser *p, char *s)
{
	char *end = strchr(s, ']'), *name;

	if (!end || *trim(end + 1))
		return fail(p, "a section header must end with ']'");
	*end = '\0';
	s = trim(s + 1);
	if (strncmp(s, "pipe", 4) != 0 || !isspace((unsigned char)s[4]))
		return fail(p, "unknown section [%s]: expected [pipe NAME]", s);
	name = trim(s + 4);
	if (!valid_name(name))
		return fail(p, "pipe name '%s': use 1 to %d characters of "
			    "A-Z a-z 0-9 . _ -", name, SHMPIPE_NAME_MAX);
	if (end_section(p))
		return -1;
	return add_pipe(p, name);
}

static int parse_key(struct parser *p, char *s)
{
	char *eq = strchr(s, '='), *key, *val;
	size_t i;

	if (!eq)
		return fail(p, "expected 'key = value' or '[pipe NAME]'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (!p->cur)
		return fail(p, "'%s' outside a [pipe NAME] section", key);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].name) != 0)
			continue;
		if (p->seen & keys[i].bit)
			return fail(p, "'%s' is given twice for pipe %s", key,
				    p->cur->name);
		if (!*val)
			return fail(p, "'%s' has no value", key);
		p->seen |= keys[i].bit;
		return keys[i].set(p, val);
	}
	return fail(p, "unknown key '%s'", key);
}

static int parse_line(struct parser *p, char *s)
{
	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(p, s);
	return parse_key(p, s);
}

/* Remember the file's name for the rest of the conf's life. */
static int add_file(struct parser *p, const char *path)
{
	char **v = realloc(p->c->files, (p->c->nfiles + 1) * sizeof(*v));

	if (!v)
		return -1;
	p->c->files = v;
	v[p->c->nfiles] = strdup(path);
	if (!v[p->c->nfiles])
		return -1;
	p->file = v[p->c->nfiles++];
	return 0;
}

static int read_file(struct parser *p, const char *path)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int r = 0;

	p->line = 0;
	if (add_file(p, path))
		return fail(p, "out of memory");
	f = fopen(path, "re");
	if (!f) {
		snprintf(p->err, p->errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!r && getline(&buf, &size, f) >= 0) {
		p->line++;
		r = parse_line(p, buf);
	}
	if (!r && ferror(f))
		r = fail(p, "read error: %s", strerror(errno));
	if (!r)
		r = end_section(p);
	free(buf);
	fclose(f);
	return r;
}

/* The conf.d/NAME.conf files beside the main file, in order of name. */
static int read_dropins(struct parser *p, const char *main_path)
{
	const char *slash = strrchr(main_path, '/');
	char pattern[PATH_MAX];
	glob_t g;
	size_t i;
	int r = 0, n;

	if (slash)
		n = snprintf(pattern, sizeof(pattern), "%.*s/conf.d/*.conf",
			     (int)(slash - main_path), main_path);
	else
		n = snprintf(pattern, sizeof(pattern), "conf.d/*.conf");
	if (n < 0 || (size_t)n >= sizeof(pattern)) {
		snprintf(p->err, p->errlen, "%s: path too long", main_path);
		return -1;
	}
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;	/* no conf.d, or nothing in it */
	for (i = 0; !r && i < g.gl_pathc; i++)
		r = read_file(p, g.gl_pathv[i]);
	globfree(&g);
	return r;
}

int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	struct parser p = { .c = c, .err = err, .errlen = errlen };

	memset(c, 0, sizeof(*c));
	if (read_file(&p, path) || read_dropins(&p, path)) {
		conf_free(c);
		return -1;
	}
	return 0;
}

void conf_free(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->pipes);
	memset(c, 0, sizeof(*c));
}

const struct pipe_conf *conf_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->npipes; i++)
		if (strcmp(c->pipes[i].name, name) == 0)
			return &c->pipes[i];
	return NULL;
}
