package metaclient

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Options configures a MetaManager.
type Options struct {
	// Variant is Buggy (the default), Fixed or Merged.
	Variant Variant
	// BackupDelay is how long a call waits for the believed leader before
	// asking the others; zero means DefaultBackupDelay.
	BackupDelay time.Duration
	// Observe, if set, is called at the end of every QueryConfig, on the
	// caller's goroutine, with the call's context and what the call saw and
	// recorded. The context tells concurrent calls on one manager apart (a
	// test tags each call's context with a value).
	Observe func(ctx context.Context, rep CallReport)
}

// CallReport is what one QueryConfig saw and recorded (heddle's
// instrumentation, for the checks; upstream has none of it).
type CallReport struct {
	Table string
	// Asked is the address of the meta the call asked first (the one the
	// manager believed led when the call began), and Known the call's meta
	// list when it began.
	Asked string
	Known []string
	// Resp and Err are what QueryConfig returned.
	Resp *QueryConfigResponse
	Err  error
	// Leader, Metas and Addrs are what the call recorded in the manager (on
	// success): the new leader index, the addresses of the sessions in the
	// meta list, and the address list, as the call read them.
	Leader int
	Metas  []string
	Addrs  []string
	// Running is the number of goroutines started by the call's Run that
	// had not finished when Run returned.
	Running int
}

// MetaManager manages the list of meta servers and asks the one it
// believes leads; when that one has changed it switches to the new leader.
// QueryConfig is meant to be safe for concurrent use (Buggy and Merged
// fall short).
type MetaManager struct {
	variant Variant
	host    harness.Host
	delay   time.Duration
	observe func(context.Context, CallReport)

	mu            harness.RWMutex // guards the three fields below
	metaIPAddrs   []string
	metas         []*metaSession
	currentLeader int
}

// NewMetaManager returns a manager of the metas at addrs, dialing from
// host, that believes the first one leads.
func NewMetaManager(host harness.Host, addrs []string, opts Options) *MetaManager {
	metas := make([]*metaSession, len(addrs))
	metaIPAddrs := make([]string, len(addrs))
	for i, addr := range addrs {
		metas[i] = newMetaSession(host, addr)
		metaIPAddrs[i] = addr
	}
	delay := opts.BackupDelay
	if delay <= 0 {
		delay = DefaultBackupDelay
	}
	return &MetaManager{
		variant:     opts.Variant,
		host:        host,
		delay:       delay,
		observe:     opts.Observe,
		metas:       metas,
		metaIPAddrs: metaIPAddrs,
	}
}

// Variant returns the manager's variant.
func (m *MetaManager) Variant() Variant { return m.variant }

// QueryConfig asks the meta servers for table's configuration: it returns
// the leader's ERR_OK answer (ERR_OBJECT_NOT_FOUND counts as an answer),
// or ctx's error.
func (m *MetaManager) QueryConfig(ctx context.Context, table string) (*QueryConfigResponse, error) {
	rep := CallReport{Table: table, Leader: -1}
	rep.Resp, rep.Err = m.call(ctx, func(rpcCtx context.Context, ms *metaSession) (*QueryConfigResponse, error) {
		return ms.queryConfig(rpcCtx, table)
	}, &rep)
	if m.observe != nil {
		m.observe(ctx, rep)
	}
	return rep.Resp, rep.Err
}

func (m *MetaManager) call(ctx context.Context, callFunc metaCallFunc, rep *CallReport) (*QueryConfigResponse, error) {
	if m.variant == Fixed {
		// FIX(beyond #2257): take the lists under the lock, as copies the
		// call owns; upstream read m.metas unlocked and shared its array
		// with the call, which appends to it.
		m.mu.RLock()
		lead, metas, addrs := m.currentLeader, slices.Clone(m.metas), slices.Clone(m.metaIPAddrs)
		m.mu.RUnlock()
		call := newMetaCall(m.variant, m.host, m.delay, lead, metas, callFunc, addrs)
		rep.Asked, rep.Known = metas[lead].addr, slices.Clone(addrs)
		resp, err := call.Run(ctx)
		if err == nil {
			// FIX(#2257): read the call's results under its lock.
			call.lock.RLock()
			newLead := int(atomic.LoadUint32(&call.newLead))
			metas, addrs = call.metas, call.metaIPAddrs
			call.lock.RUnlock()
			// FIX(beyond #2257): record the three together.
			m.mu.Lock()
			m.currentLeader, m.metas, m.metaIPAddrs = newLead, metas, addrs
			m.mu.Unlock()
			rep.Leader, rep.Metas, rep.Addrs = newLead, sessionAddrs(metas), slices.Clone(addrs)
		}
		rep.Running = call.leftRunning
		return resp, err
	}

	if m.variant == Merged {
		return m.callMerged(ctx, callFunc, rep)
	}
	call := newMetaCall(m.variant, m.host, m.delay, m.getCurrentLeader(), m.metas, callFunc, m.metaIPAddrs)
	// The report's view of the call's start (heddle's, not upstream's):
	// nothing of this call runs yet, and later appends by other calls'
	// stray goroutines write past the end of these slices.
	if call.lead >= 0 && call.lead < len(call.metas) {
		rep.Asked = call.metas[call.lead].addr
	}
	rep.Known = sessionAddrs(call.metas)
	resp, err := call.Run(ctx)
	if err == nil {
		// BUG(upstream #2256): the call's results are read without its lock
		// while backup goroutines still append to them.
		newLead := int(call.newLead)
		m.setCurrentLeader(newLead)
		metas := call.metas
		m.setNewMetas(metas)
		addrs := call.metaIPAddrs
		m.setMetaIPAddrs(addrs)
		rep.Leader, rep.Metas, rep.Addrs = newLead, sessionAddrs(metas), slices.Clone(addrs)
	}
	rep.Running = call.leftRunning
	return resp, err
}

// callMerged is call as upstream has it after #2257: the call's results
// are read under its lock, but the manager's lists are read without the
// manager's and handed to the call as they are.
func (m *MetaManager) callMerged(ctx context.Context, callFunc metaCallFunc, rep *CallReport) (*QueryConfigResponse, error) {
	// BUG(upstream, after #2257): unlocked reads of the lists, which
	// another call's setNewMetas writes; the call appends to their array,
	// as another call on this manager may at the same index.
	call := newMetaCall(m.variant, m.host, m.delay, m.getCurrentLeader(), m.metas, callFunc, m.metaIPAddrs)
	if call.lead >= 0 && call.lead < len(call.metas) {
		rep.Asked = call.metas[call.lead].addr
	}
	rep.Known = sessionAddrs(call.metas)
	resp, err := call.Run(ctx)
	if err == nil {
		call.lock.RLock()
		newLead := int(atomic.LoadUint32(&call.newLead))
		m.setCurrentLeader(newLead)
		m.setNewMetas(call.metas)
		m.setMetaIPAddrs(call.metaIPAddrs)
		rep.Leader, rep.Metas, rep.Addrs = newLead, sessionAddrs(call.metas), slices.Clone(call.metaIPAddrs)
		call.lock.RUnlock()
	}
	rep.Running = call.leftRunning
	return resp, err
}

func sessionAddrs(metas []*metaSession) []string {
	out := make([]string, len(metas))
	for i, ms := range metas {
		out[i] = ms.addr
	}
	return out
}

func (m *MetaManager) getCurrentLeader() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.currentLeader
}

func (m *MetaManager) setCurrentLeader(lead int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.currentLeader = lead
}

func (m *MetaManager) setNewMetas(metas []*metaSession) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.metas = metas
}

func (m *MetaManager) setMetaIPAddrs(addrs []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.metaIPAddrs = addrs
}

// Leader returns the index of the meta the manager believes leads and its
// address in the session list ("" if the index is outside the list).
func (m *MetaManager) Leader() (int, string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.currentLeader < 0 || m.currentLeader >= len(m.metas) {
		return m.currentLeader, ""
	}
	return m.currentLeader, m.metas[m.currentLeader].addr
}

// Lists returns copies of the manager's lists: the addresses of the
// sessions (metas) and the address list (metaIPAddrs). They should be
// equal, entry by entry.
func (m *MetaManager) Lists() (metas, addrs []string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sessionAddrs(m.metas), slices.Clone(m.metaIPAddrs)
}
