/*
 * noop.c — the entries of libfabric's operation tables that srd does not have: RMA and
 * atomics (srd offers messaging and tagged messaging only: FI_RMA and FI_ATOMIC are never
 * in its capabilities), connection management of FI_EP_MSG endpoints, and the generic fid
 * hooks an object does not use.  Each says -FI_ENOSYS (or -FI_EOPNOTSUPP where the man
 * pages name it), so that an application calling one gets an error, never a crash through
 * a NULL pointer (libfabric's inline wrappers call most entries without a check).
 */
#include "noop.h"

int srdfi_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
	(void)fid, (void)bfid, (void)flags;
	return -FI_ENOSYS;
}

int srdfi_no_control(struct fid *fid, int command, void *arg)
{
	(void)fid, (void)command, (void)arg;
	return -FI_ENOSYS;
}

int srdfi_no_ops_open(struct fid *fid, const char *name, uint64_t flags, void **ops,
		      void *context)
{
	(void)fid, (void)name, (void)flags, (void)ops, (void)context;
	return -FI_ENOSYS;
}

int srdfi_no_tostr(const struct fid *fid, char *buf, size_t len)
{
	(void)fid, (void)buf, (void)len;
	return -FI_ENOSYS;
}

int srdfi_no_ops_set(struct fid *fid, const char *name, uint64_t flags, void *ops,
		     void *context)
{
	(void)fid, (void)name, (void)flags, (void)ops, (void)context;
	return -FI_ENOSYS;
}

/* ---- RMA ---- */

static ssize_t no_read(struct fid_ep *ep, void *buf, size_t len, void *desc, fi_addr_t src,
		       uint64_t addr, uint64_t key, void *context)
{
	(void)ep, (void)buf, (void)len, (void)desc, (void)src, (void)addr, (void)key,
		(void)context;
	return -FI_ENOSYS;
}

static ssize_t no_readv(struct fid_ep *ep, const struct iovec *iov, void **desc, size_t count,
			fi_addr_t src, uint64_t addr, uint64_t key, void *context)
{
	(void)ep, (void)iov, (void)desc, (void)count, (void)src, (void)addr, (void)key,
		(void)context;
	return -FI_ENOSYS;
}

static ssize_t no_rma_msg(struct fid_ep *ep, const struct fi_msg_rma *msg, uint64_t flags)
{
	(void)ep, (void)msg, (void)flags;
	return -FI_ENOSYS;
}

static ssize_t no_write(struct fid_ep *ep, const void *buf, size_t len, void *desc,
			fi_addr_t dst, uint64_t addr, uint64_t key, void *context)
{
	(void)ep, (void)buf, (void)len, (void)desc, (void)dst, (void)addr, (void)key,
		(void)context;
	return -FI_ENOSYS;
}

static ssize_t no_rma_inject(struct fid_ep *ep, const void *buf, size_t len, fi_addr_t dst,
			     uint64_t addr, uint64_t key)
{
	(void)ep, (void)buf, (void)len, (void)dst, (void)addr, (void)key;
	return -FI_ENOSYS;
}

static ssize_t no_writedata(struct fid_ep *ep, const void *buf, size_t len, void *desc,
			    uint64_t data, fi_addr_t dst, uint64_t addr, uint64_t key,
			    void *context)
{
	(void)ep, (void)buf, (void)len, (void)desc, (void)data, (void)dst, (void)addr,
		(void)key, (void)context;
	return -FI_ENOSYS;
}

static ssize_t no_injectdata(struct fid_ep *ep, const void *buf, size_t len, uint64_t data,
			     fi_addr_t dst, uint64_t addr, uint64_t key)
{
	(void)ep, (void)buf, (void)len, (void)data, (void)dst, (void)addr, (void)key;
	return -FI_ENOSYS;
}

struct fi_ops_rma srdfi_no_rma_ops = {
	.size = sizeof(struct fi_ops_rma),
	.read = no_read,
	.readv = no_readv,
	.readmsg = no_rma_msg,
	.write = no_write,
	.writev = no_readv, /* the same signature */
	.writemsg = no_rma_msg,
	.inject = no_rma_inject,
	.writedata = no_writedata,
	.injectdata = no_injectdata,
};

/* ---- atomics ---- */

static ssize_t no_atomic_write(struct fid_ep *ep, const void *buf, size_t count, void *desc,
			       fi_addr_t dst, uint64_t addr, uint64_t key,
			       enum fi_datatype dt, enum fi_op op, void *context)
{
	(void)ep, (void)buf, (void)count, (void)desc, (void)dst, (void)addr, (void)key,
		(void)dt, (void)op, (void)context;
	return -FI_ENOSYS;
}

static ssize_t no_atomic_writev(struct fid_ep *ep, const struct fi_ioc *iov, void **desc,
				size_t count, fi_addr_t dst, uint64_t addr, uint64_t key,
				enum fi_datatype dt, enum fi_op op, void *context)
{
	(void)ep, (void)iov, (void)desc, (void)count, (void)dst, (void)addr, (void)key,
		(void)dt, (void)op, (void)context;
	return -FI_ENOSYS;
}

static ssize_t no_atomic_writemsg(struct fid_ep *ep, const struct fi_msg_atomic *msg,
				  uint64_t flags)
{
	(void)ep, (void)msg, (void)flags;
	return -FI_ENOSYS;
}

static ssize_t no_atomic_inject(struct fid_ep *ep, const void *buf, size_t count,
				fi_addr_t dst, uint64_t addr, uint64_t key, enum fi_datatype dt,
				enum fi_op op)
{
	(void)ep, (void)buf, (void)count, (void)dst, (void)addr, (void)key, (void)dt, (void)op;
	return -FI_ENOSYS;
}

static ssize_t no_readwrite(struct fid_ep *ep, const void *buf, size_t count, void *desc,
			    void *result, void *result_desc, fi_addr_t dst, uint64_t addr,
			    uint64_t key, enum fi_datatype dt, enum fi_op op, void *context)
{
	(void)ep, (void)buf, (void)count, (void)desc, (void)result, (void)result_desc,
		(void)dst, (void)addr, (void)key, (void)dt, (void)op, (void)context;
	return -FI_ENOSYS;
}

static ssize_t no_readwritev(struct fid_ep *ep, const struct fi_ioc *iov, void **desc,
			     size_t count, struct fi_ioc *resultv, void **result_desc,
			     size_t result_count, fi_addr_t dst, uint64_t addr, uint64_t key,
			     enum fi_datatype dt, enum fi_op op, void *context)
{
	(void)ep, (void)iov, (void)desc, (void)count, (void)resultv, (void)result_desc,
		(void)result_count, (void)dst, (void)addr, (void)key, (void)dt, (void)op,
		(void)context;
	return -FI_ENOSYS;
}

static ssize_t no_readwritemsg(struct fid_ep *ep, const struct fi_msg_atomic *msg,
			       struct fi_ioc *resultv, void **result_desc, size_t result_count,
			       uint64_t flags)
{
	(void)ep, (void)msg, (void)resultv, (void)result_desc, (void)result_count, (void)flags;
	return -FI_ENOSYS;
}

static ssize_t no_compwrite(struct fid_ep *ep, const void *buf, size_t count, void *desc,
			    const void *compare, void *compare_desc, void *result,
			    void *result_desc, fi_addr_t dst, uint64_t addr, uint64_t key,
			    enum fi_datatype dt, enum fi_op op, void *context)
{
	(void)ep, (void)buf, (void)count, (void)desc, (void)compare, (void)compare_desc,
		(void)result, (void)result_desc, (void)dst, (void)addr, (void)key, (void)dt,
		(void)op, (void)context;
	return -FI_ENOSYS;
}

static ssize_t no_compwritev(struct fid_ep *ep, const struct fi_ioc *iov, void **desc,
			     size_t count, const struct fi_ioc *comparev, void **compare_desc,
			     size_t compare_count, struct fi_ioc *resultv, void **result_desc,
			     size_t result_count, fi_addr_t dst, uint64_t addr, uint64_t key,
			     enum fi_datatype dt, enum fi_op op, void *context)
{
	(void)ep, (void)iov, (void)desc, (void)count, (void)comparev, (void)compare_desc,
		(void)compare_count, (void)resultv, (void)result_desc, (void)result_count,
		(void)dst, (void)addr, (void)key, (void)dt, (void)op, (void)context;
	return -FI_ENOSYS;
}

static ssize_t no_compwritemsg(struct fid_ep *ep, const struct fi_msg_atomic *msg,
			       const struct fi_ioc *comparev, void **compare_desc,
			       size_t compare_count, struct fi_ioc *resultv, void **result_desc,
			       size_t result_count, uint64_t flags)
{
	(void)ep, (void)msg, (void)comparev, (void)compare_desc, (void)compare_count,
		(void)resultv, (void)result_desc, (void)result_count, (void)flags;
	return -FI_ENOSYS;
}

static int no_valid(struct fid_ep *ep, enum fi_datatype dt, enum fi_op op, size_t *count)
{
	(void)ep, (void)dt, (void)op, (void)count;
	return -FI_EOPNOTSUPP;
}

struct fi_ops_atomic srdfi_no_atomic_ops = {
	.size = sizeof(struct fi_ops_atomic),
	.write = no_atomic_write,
	.writev = no_atomic_writev,
	.writemsg = no_atomic_writemsg,
	.inject = no_atomic_inject,
	.readwrite = no_readwrite,
	.readwritev = no_readwritev,
	.readwritemsg = no_readwritemsg,
	.compwrite = no_compwrite,
	.compwritev = no_compwritev,
	.compwritemsg = no_compwritemsg,
	.writevalid = no_valid,
	.readwritevalid = no_valid,
	.compwritevalid = no_valid,
};

/* ---- connection management (FI_EP_MSG only) ---- */

int srdfi_no_connect(struct fid_ep *ep, const void *addr, const void *param, size_t len)
{
	(void)ep, (void)addr, (void)param, (void)len;
	return -FI_ENOSYS;
}

int srdfi_no_listen(struct fid_pep *pep)
{
	(void)pep;
	return -FI_ENOSYS;
}

int srdfi_no_accept(struct fid_ep *ep, const void *param, size_t len)
{
	(void)ep, (void)param, (void)len;
	return -FI_ENOSYS;
}

int srdfi_no_reject(struct fid_pep *pep, fid_t handle, const void *param, size_t len)
{
	(void)pep, (void)handle, (void)param, (void)len;
	return -FI_ENOSYS;
}

int srdfi_no_shutdown(struct fid_ep *ep, uint64_t flags)
{
	(void)ep, (void)flags;
	return -FI_ENOSYS;
}

int srdfi_no_join(struct fid_ep *ep, const void *addr, uint64_t flags, struct fid_mc **mc,
		  void *context)
{
	(void)ep, (void)addr, (void)flags, (void)mc, (void)context;
	return -FI_ENOSYS;
}
