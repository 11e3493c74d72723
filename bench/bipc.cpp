// SPDX-License-Identifier: MIT
//
// Boost.Interprocess message_queue behind a C interface, for t_boost.c.
// Every Boost exception stops here and becomes a negative errno value.

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/version.hpp>
#include <cerrno>
#include <cstdio>
#include <new>

#include "bipc.h"

namespace bip = boost::interprocess;

int bipc_create(const char *name, size_t depth, size_t size)
{
	try {
		bip::message_queue q(bip::create_only, name, depth, size);
	} catch (const bip::interprocess_exception &) {
		return -EEXIST;
	} catch (...) {
		return -ENOMEM;
	}
	return 0;
}

void *bipc_open(const char *name)
{
	try {
		return new bip::message_queue(bip::open_only, name);
	} catch (...) {
		return nullptr;
	}
}

int bipc_send(void *q, const void *msg, size_t len, int nowait)
{
	bip::message_queue *mq = static_cast<bip::message_queue *>(q);

	try {
		if (!nowait) {
			mq->send(msg, len, 0);
			return 0;
		}
		return mq->try_send(msg, len, 0) ? 0 : -EAGAIN;
	} catch (...) {
		return -EIO;
	}
}

int bipc_recv(void *q, void *buf, size_t size, size_t *len)
{
	bip::message_queue *mq = static_cast<bip::message_queue *>(q);
	bip::message_queue::size_type got = 0;
	unsigned int prio;

	try {
		mq->receive(buf, size, got, prio);
	} catch (...) {
		return -EIO;
	}
	*len = got;
	return 0;
}

void bipc_close(void *q)
{
	delete static_cast<bip::message_queue *>(q);
}

int bipc_remove(const char *name)
{
	return bip::message_queue::remove(name) ? 0 : -ENOENT;
}

const char *bipc_version(void)
{
	static char v[32];

	std::snprintf(v, sizeof(v), "%d.%d.%d", BOOST_VERSION / 100000,
		      BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
	return v;
}
