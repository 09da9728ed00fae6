package redisreg

import (
	"strconv"
	"strings"
)

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
func (k keys) sema(name string) string       { return k.p + ":sema:{" + hashTag(name) + "}" }
func (k keys) fence(name string) string      { return k.p + ":fence:{" + hashTag(name) + "}" }

// hashTag escapes name for use inside a Redis Cluster hash tag: a '{' or
// '}' in the name would end or empty the tag (a name starting with '}'
// makes the tag empty, so the whole key is hashed and the lock and fence
// keys land in different slots). '%', '{' and '}' are percent-escaped, so
// distinct names keep distinct keys; other names are unchanged.
func hashTag(name string) string {
	if !strings.ContainsAny(name, "%{}") {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '%':
			b.WriteString("%25")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
