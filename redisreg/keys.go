package redisreg

import "strconv"

// keys builds key and channel names. Every name starts with the prefix.
//
// Redis Cluster: the only multi-key script (fence.lua) touches the lock key
// and the fence counter of one semaphore, which share the hash tag {name}.
// Every other multi-key operation is a pipeline, which go-redis splits by
// slot, so single-key commands on different slots are fine.
type keys struct{ p string }

func (k keys) world() string                { return k.p + ":world" }
func (k keys) replicaChan(id string) string { return k.p + ":replica:" + id }
func (k keys) presence(char uint32) string {
	return k.p + ":presence:" + strconv.FormatUint(uint64(char), 10)
}
func (k keys) chsess(ch uint16) string { return k.p + ":chsess:" + strconv.FormatUint(uint64(ch), 10) }
func (k keys) chstages(ch uint16) string {
	return k.p + ":chstages:" + strconv.FormatUint(uint64(ch), 10)
}
func (k keys) claim(ch uint16) string        { return k.p + ":channel:" + strconv.FormatUint(uint64(ch), 10) }
func (k keys) chinfo(ch uint16) string       { return k.p + ":chinfo:" + strconv.FormatUint(uint64(ch), 10) }
func (k keys) channels() string              { return k.p + ":channels" }
func (k keys) lease(id string) string        { return k.p + ":lease:" + id }
func (k keys) replicas() string              { return k.p + ":replicas" }
func (k keys) replicaChans(id string) string { return k.p + ":rchans:" + id }
func (k keys) sweepLock(id string) string    { return k.p + ":sweep:" + id }
func (k keys) sema(name string) string       { return k.p + ":sema:{" + name + "}" }
func (k keys) fence(name string) string      { return k.p + ":fence:{" + name + "}" }
