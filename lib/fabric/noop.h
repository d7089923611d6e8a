/*
 * noop.h — the operations srd does not have (noop.c): each returns -FI_ENOSYS.
 */
#ifndef SRDFI_NOOP_H
#define SRDFI_NOOP_H

#include "srdfi.h"

int srdfi_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags);
int srdfi_no_control(struct fid *fid, int command, void *arg);
int srdfi_no_ops_open(struct fid *fid, const char *name, uint64_t flags, void **ops,
		      void *context);
int srdfi_no_tostr(const struct fid *fid, char *buf, size_t len);
int srdfi_no_ops_set(struct fid *fid, const char *name, uint64_t flags, void *ops,
		     void *context);
int srdfi_no_connect(struct fid_ep *ep, const void *addr, const void *param, size_t len);
int srdfi_no_listen(struct fid_pep *pep);
int srdfi_no_accept(struct fid_ep *ep, const void *param, size_t len);
int srdfi_no_reject(struct fid_pep *pep, fid_t handle, const void *param, size_t len);
int srdfi_no_shutdown(struct fid_ep *ep, uint64_t flags);
int srdfi_no_join(struct fid_ep *ep, const void *addr, uint64_t flags, struct fid_mc **mc,
		  void *context);

extern struct fi_ops_rma srdfi_no_rma_ops;
extern struct fi_ops_atomic srdfi_no_atomic_ops;

#endif /* SRDFI_NOOP_H */
