package wire

import "fmt"

// Type is a message type code.
type Type uint16

// Message type codes. Requests flow client to server; responses carry the
// request's ID; pushes carry request ID 0.
const (
	// Handshake and generic responses.
	THello   Type = 0x0001 // client: first frame of a connection
	TWelcome Type = 0x0002 // server: handshake accepted
	TError   Type = 0x0003 // server: a request failed (or, with ID 0, a push)
	TOK      Type = 0x0004 // server: a request succeeded
	TPing    Type = 0x0010
	TPong    Type = 0x0011
	TLogout  Type = 0x0012

	// Stages.
	TStageCreate    Type = 0x0020
	TStageEnter     Type = 0x0021
	TStageMove      Type = 0x0022
	TStageBack      Type = 0x0023
	TStageLeave     Type = 0x0024
	TStageLock      Type = 0x0025
	TStageReserve   Type = 0x0026
	TStageUnreserve Type = 0x0027
	TStageReady     Type = 0x0028
	TStageSetBinary Type = 0x0029
	TStageGetBinary Type = 0x002A
	TStageClients   Type = 0x002B
	TStageList      Type = 0x002C
	TStageInfo      Type = 0x002D
	TStageBinary    Type = 0x002E
	TStageListResp  Type = 0x002F

	// Pushes.
	TStageJoined    Type = 0x0030
	TStageLeft      Type = 0x0031
	TCastMsg        Type = 0x0032
	TMailNotify     Type = 0x0033
	TKicked         Type = 0x0034
	TNotice         Type = 0x0035
	TGuildEvent     Type = 0x0036
	TPlayersOffline Type = 0x0037

	// Casts and semaphores.
	TCast        Type = 0x0040
	TSemaAcquire Type = 0x0050
	TSemaRelease Type = 0x0051
	TSemaWrite   Type = 0x0052

	// Character data.
	TSaveData Type = 0x0060
	TLoadData Type = 0x0061
	TCharData Type = 0x0062

	// Mail.
	TMailSend     Type = 0x0070
	TMailList     Type = 0x0071
	TMailRead     Type = 0x0072
	TMailDelete   Type = 0x0073
	TMailListResp Type = 0x0074
	TMailBody     Type = 0x0075

	// Guilds.
	TGuildCreate  Type = 0x0080
	TGuildInvite  Type = 0x0081
	TGuildApply   Type = 0x0082
	TGuildAccept  Type = 0x0083
	TGuildLeave   Type = 0x0084
	TGuildKick    Type = 0x0085
	TGuildMembers Type = 0x0086
	TGuildMail    Type = 0x0087
	TGuildInfo    Type = 0x0088

	// Finding players.
	TFindPlayer    Type = 0x0090
	TSearchPlayers Type = 0x0091
	TPlayerInfo    Type = 0x0093
	TPlayerList    Type = 0x0094
)

// New returns a zero message of type t, or nil if t is unknown.
func New(t Type) Message {
	switch t {
	case THello:
		return &Hello{}
	case TWelcome:
		return &Welcome{}
	case TError:
		return &Error{}
	case TOK:
		return &OK{}
	case TPing:
		return &Ping{}
	case TPong:
		return &Pong{}
	case TLogout:
		return &Logout{}
	case TStageCreate:
		return &StageCreate{}
	case TStageEnter:
		return &StageEnter{}
	case TStageMove:
		return &StageMove{}
	case TStageBack:
		return &StageBack{}
	case TStageLeave:
		return &StageLeave{}
	case TStageLock:
		return &StageLock{}
	case TStageReserve:
		return &StageReserve{}
	case TStageUnreserve:
		return &StageUnreserve{}
	case TStageReady:
		return &StageReady{}
	case TStageSetBinary:
		return &StageSetBinary{}
	case TStageGetBinary:
		return &StageGetBinary{}
	case TStageClients:
		return &StageClients{}
	case TStageList:
		return &StageList{}
	case TStageInfo:
		return &StageInfo{}
	case TStageBinary:
		return &StageBinary{}
	case TStageListResp:
		return &StageListResp{}
	case TStageJoined:
		return &StageJoined{}
	case TStageLeft:
		return &StageLeft{}
	case TCastMsg:
		return &CastMsg{}
	case TMailNotify:
		return &MailNotify{}
	case TKicked:
		return &Kicked{}
	case TNotice:
		return &Notice{}
	case TGuildEvent:
		return &GuildEvent{}
	case TPlayersOffline:
		return &PlayersOffline{}
	case TCast:
		return &Cast{}
	case TSemaAcquire:
		return &SemaAcquire{}
	case TSemaRelease:
		return &SemaRelease{}
	case TSemaWrite:
		return &SemaWrite{}
	case TSaveData:
		return &SaveData{}
	case TLoadData:
		return &LoadData{}
	case TCharData:
		return &CharData{}
	case TMailSend:
		return &MailSend{}
	case TMailList:
		return &MailList{}
	case TMailRead:
		return &MailRead{}
	case TMailDelete:
		return &MailDelete{}
	case TMailListResp:
		return &MailListResp{}
	case TMailBody:
		return &MailBody{}
	case TGuildCreate:
		return &GuildCreate{}
	case TGuildInvite:
		return &GuildInvite{}
	case TGuildApply:
		return &GuildApply{}
	case TGuildAccept:
		return &GuildAccept{}
	case TGuildLeave:
		return &GuildLeave{}
	case TGuildKick:
		return &GuildKick{}
	case TGuildMembers:
		return &GuildMembers{}
	case TGuildMail:
		return &GuildMail{}
	case TGuildInfo:
		return &GuildInfo{}
	case TFindPlayer:
		return &FindPlayer{}
	case TSearchPlayers:
		return &SearchPlayers{}
	case TPlayerInfo:
		return &PlayerInfo{}
	case TPlayerList:
		return &PlayerList{}
	}
	return nil
}

// Types lists every defined type code (for tests and fuzzing).
func Types() []Type {
	return []Type{
		THello, TWelcome, TError, TOK, TPing, TPong, TLogout,
		TStageCreate, TStageEnter, TStageMove, TStageBack, TStageLeave, TStageLock,
		TStageReserve, TStageUnreserve, TStageReady, TStageSetBinary, TStageGetBinary,
		TStageClients, TStageList, TStageInfo, TStageBinary, TStageListResp,
		TStageJoined, TStageLeft, TCastMsg, TMailNotify, TKicked, TNotice, TGuildEvent,
		TPlayersOffline,
		TCast, TSemaAcquire, TSemaRelease, TSemaWrite,
		TSaveData, TLoadData, TCharData,
		TMailSend, TMailList, TMailRead, TMailDelete, TMailListResp, TMailBody,
		TGuildCreate, TGuildInvite, TGuildApply, TGuildAccept, TGuildLeave, TGuildKick,
		TGuildMembers, TGuildMail, TGuildInfo,
		TFindPlayer, TSearchPlayers, TPlayerInfo, TPlayerList,
	}
}

func (t Type) String() string {
	if m := New(t); m != nil {
		return fmt.Sprintf("%T", m)[len("*wire."):]
	}
	return fmt.Sprintf("Type(0x%04x)", uint16(t))
}

// ErrorCode is the code of an Error message.
type ErrorCode uint16

// Error codes.
const (
	CodeBadRequest   ErrorCode = 1  // malformed or invalid request
	CodeUnauthorized ErrorCode = 2  // bad, expired or misbound token
	CodeVersion      ErrorCode = 3  // unsupported protocol version
	CodeNotFound     ErrorCode = 4  // no such stage, character, mail, guild
	CodeStageFull    ErrorCode = 5  // stage at max players
	CodeWrongPass    ErrorCode = 6  // stage password mismatch
	CodeStageLocked  ErrorCode = 7  // stage locked
	CodeSemaHeld     ErrorCode = 8  // semaphore held; Channel/Addr say where
	CodeNotInStage   ErrorCode = 9  // request needs the session to be in a stage
	CodeUnavailable  ErrorCode = 10 // a backend (Redis, PostgreSQL) is unreachable
	CodeInternal     ErrorCode = 11 // server error
	CodeForbidden    ErrorCode = 12 // not allowed (not guild leader, not host)
	CodeExists       ErrorCode = 13 // already exists / already a member
	CodeTooLarge     ErrorCode = 14 // data over its limit
	CodeServerFull   ErrorCode = 15 // channel at max players
	CodeDraining     ErrorCode = 16 // channel draining, connect elsewhere
	CodeStaleToken   ErrorCode = 17 // fencing token older than the last accepted
)

func (c ErrorCode) String() string {
	switch c {
	case CodeBadRequest:
		return "bad request"
	case CodeUnauthorized:
		return "unauthorized"
	case CodeVersion:
		return "unsupported version"
	case CodeNotFound:
		return "not found"
	case CodeStageFull:
		return "stage full"
	case CodeWrongPass:
		return "wrong password"
	case CodeStageLocked:
		return "stage locked"
	case CodeSemaHeld:
		return "semaphore held"
	case CodeNotInStage:
		return "not in a stage"
	case CodeUnavailable:
		return "service unavailable"
	case CodeInternal:
		return "internal error"
	case CodeForbidden:
		return "forbidden"
	case CodeExists:
		return "already exists"
	case CodeTooLarge:
		return "too large"
	case CodeServerFull:
		return "channel full"
	case CodeDraining:
		return "channel draining"
	case CodeStaleToken:
		return "stale fencing token"
	}
	return fmt.Sprintf("error %d", uint16(c))
}

// Cast scopes.
const (
	ScopeStage   uint8 = 1 // everyone in the sender's stage
	ScopeChannel uint8 = 2 // everyone on the sender's channel
	ScopeWorld   uint8 = 3 // everyone in the cluster
	ScopeTargets uint8 = 4 // the listed character IDs (whisper, party)
	ScopeGuild   uint8 = 5 // every online member of the sender's guild
)

// Guild events (GuildEvent.Event).
const (
	GuildInvited uint8 = 1 // CharID (the sender) invited you to GuildID
	GuildApplied uint8 = 2 // CharID applied to your guild
	GuildJoined  uint8 = 3 // CharID joined
	GuildLeft    uint8 = 4 // CharID left
	GuildKicked  uint8 = 5 // CharID was kicked
)

// ---- handshake and generic ----

// Hello is the first frame a client sends.
type Hello struct {
	Magic   uint32
	Version uint16
	Token   string // sign-in token from the HTTP API
}

func (*Hello) Type() Type { return THello }
func (m *Hello) Encode(w *Writer) {
	w.U32(m.Magic)
	w.U16(m.Version)
	w.String(m.Token)
}
func (m *Hello) Decode(r *Reader) {
	m.Magic = r.U32()
	m.Version = r.U16()
	m.Token = r.String(MaxShort)
}

// Welcome accepts a Hello.
type Welcome struct {
	Version    uint16
	CharID     uint32
	Name       string
	ChannelID  uint16
	ServerTime int64 // unix nanoseconds
	UnreadMail uint16
	GuildID    uint32
}

func (*Welcome) Type() Type { return TWelcome }
func (m *Welcome) Encode(w *Writer) {
	w.U16(m.Version)
	w.U32(m.CharID)
	w.String(m.Name)
	w.U16(m.ChannelID)
	w.I64(m.ServerTime)
	w.U16(m.UnreadMail)
	w.U32(m.GuildID)
}
func (m *Welcome) Decode(r *Reader) {
	m.Version = r.U16()
	m.CharID = r.U32()
	m.Name = r.String(MaxName)
	m.ChannelID = r.U16()
	m.ServerTime = r.I64()
	m.UnreadMail = r.U16()
	m.GuildID = r.U32()
}

// Error reports a failed request (ReqID of the request) or, with ReqID 0,
// an asynchronous error. Channel and Addr are set with CodeSemaHeld (where
// the holder is) and CodeDraining (where to go).
type Error struct {
	Code    ErrorCode
	Message string
	Channel uint16
	Addr    string
}

func (*Error) Type() Type { return TError }
func (m *Error) Encode(w *Writer) {
	w.U16(uint16(m.Code))
	w.String(m.Message)
	w.U16(m.Channel)
	w.String(m.Addr)
}
func (m *Error) Decode(r *Reader) {
	m.Code = ErrorCode(r.U16())
	m.Message = r.String(MaxShort)
	m.Channel = r.U16()
	m.Addr = r.String(MaxShort)
}

// Error implements error so clients can return it.
func (m *Error) Error() string {
	if m.Message == "" {
		return m.Code.String()
	}
	return m.Code.String() + ": " + m.Message
}

// OK reports success. ID carries a result where the request defines one
// (mail ID, guild ID, fencing token, delivered count).
type OK struct{ ID uint64 }

func (*OK) Type() Type         { return TOK }
func (m *OK) Encode(w *Writer) { w.U64(m.ID) }
func (m *OK) Decode(r *Reader) { m.ID = r.U64() }

// Ping asks for a Pong; ClientTime is echoed.
type Ping struct{ ClientTime int64 }

func (*Ping) Type() Type         { return TPing }
func (m *Ping) Encode(w *Writer) { w.I64(m.ClientTime) }
func (m *Ping) Decode(r *Reader) { m.ClientTime = r.I64() }

// Pong answers Ping with the server's clock (unix nanoseconds).
type Pong struct{ ClientTime, ServerTime int64 }

func (*Pong) Type() Type { return TPong }
func (m *Pong) Encode(w *Writer) {
	w.I64(m.ClientTime)
	w.I64(m.ServerTime)
}
func (m *Pong) Decode(r *Reader) {
	m.ClientTime = r.I64()
	m.ServerTime = r.I64()
}

// Logout ends the session cleanly; the server saves, answers OK and closes.
type Logout struct{}

func (*Logout) Type() Type       { return TLogout }
func (*Logout) Encode(w *Writer) {}
func (*Logout) Decode(r *Reader) {}

// ---- stages ----

// StageCreate creates a stage on the session's channel. MaxPlayers 0 means
// the channel default.
type StageCreate struct {
	StageID    string
	MaxPlayers uint16
	Password   string
}

func (*StageCreate) Type() Type { return TStageCreate }
func (m *StageCreate) Encode(w *Writer) {
	w.String(m.StageID)
	w.U16(m.MaxPlayers)
	w.String(m.Password)
}
func (m *StageCreate) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.MaxPlayers = r.U16()
	m.Password = r.String(MaxShort)
}

// StageEnter enters a stage (leaving the current one, clearing the back
// stack); answered with StageInfo.
type StageEnter struct{ StageID, Password string }

func (*StageEnter) Type() Type { return TStageEnter }
func (m *StageEnter) Encode(w *Writer) {
	w.String(m.StageID)
	w.String(m.Password)
}
func (m *StageEnter) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Password = r.String(MaxShort)
}

// StageMove enters a stage and pushes the current one on the back stack.
type StageMove struct{ StageID, Password string }

func (*StageMove) Type() Type { return TStageMove }
func (m *StageMove) Encode(w *Writer) {
	w.String(m.StageID)
	w.String(m.Password)
}
func (m *StageMove) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Password = r.String(MaxShort)
}

// StageBack returns to the stage on top of the back stack; answered with StageInfo.
type StageBack struct{}

func (*StageBack) Type() Type       { return TStageBack }
func (*StageBack) Encode(w *Writer) {}
func (*StageBack) Decode(r *Reader) {}

// StageLeave leaves the current stage.
type StageLeave struct{}

func (*StageLeave) Type() Type       { return TStageLeave }
func (*StageLeave) Encode(w *Writer) {}
func (*StageLeave) Decode(r *Reader) {}

// StageLock locks or unlocks a stage (host only): a locked stage admits only
// members and holders of a reservation.
type StageLock struct {
	StageID string
	Locked  bool
}

func (*StageLock) Type() Type { return TStageLock }
func (m *StageLock) Encode(w *Writer) {
	w.String(m.StageID)
	w.Bool(m.Locked)
}
func (m *StageLock) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Locked = r.Bool()
}

// StageReserve reserves a slot in a stage (checked against its password).
type StageReserve struct{ StageID, Password string }

func (*StageReserve) Type() Type { return TStageReserve }
func (m *StageReserve) Encode(w *Writer) {
	w.String(m.StageID)
	w.String(m.Password)
}
func (m *StageReserve) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Password = r.String(MaxShort)
}

// StageUnreserve gives up a reservation.
type StageUnreserve struct{ StageID string }

func (*StageUnreserve) Type() Type         { return TStageUnreserve }
func (m *StageUnreserve) Encode(w *Writer) { w.String(m.StageID) }
func (m *StageUnreserve) Decode(r *Reader) { m.StageID = r.String(MaxStageID) }

// StageReady sets the ready flag of the session's reservation.
type StageReady struct {
	StageID string
	Ready   bool
}

func (*StageReady) Type() Type { return TStageReady }
func (m *StageReady) Encode(w *Writer) {
	w.String(m.StageID)
	w.Bool(m.Ready)
}
func (m *StageReady) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Ready = r.Bool()
}

// StageSetBinary sets an opaque value of a stage (host only).
type StageSetBinary struct {
	StageID string
	Key     uint8
	Data    []byte
}

func (*StageSetBinary) Type() Type { return TStageSetBinary }
func (m *StageSetBinary) Encode(w *Writer) {
	w.String(m.StageID)
	w.U8(m.Key)
	w.Blob(m.Data)
}
func (m *StageSetBinary) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Key = r.U8()
	m.Data = r.Blob(MaxStageBinary)
}

// StageGetBinary reads an opaque value; answered with StageBinary.
type StageGetBinary struct {
	StageID string
	Key     uint8
}

func (*StageGetBinary) Type() Type { return TStageGetBinary }
func (m *StageGetBinary) Encode(w *Writer) {
	w.String(m.StageID)
	w.U8(m.Key)
}
func (m *StageGetBinary) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Key = r.U8()
}

// StageBinary answers StageGetBinary (Data empty when unset).
type StageBinary struct {
	StageID string
	Key     uint8
	Data    []byte
}

func (*StageBinary) Type() Type { return TStageBinary }
func (m *StageBinary) Encode(w *Writer) {
	w.String(m.StageID)
	w.U8(m.Key)
	w.Blob(m.Data)
}
func (m *StageBinary) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.Key = r.U8()
	m.Data = r.Blob(MaxStageBinary)
}

// StageClients asks for a stage's members and reservations; answered with StageInfo.
type StageClients struct{ StageID string }

func (*StageClients) Type() Type         { return TStageClients }
func (m *StageClients) Encode(w *Writer) { w.String(m.StageID) }
func (m *StageClients) Decode(r *Reader) { m.StageID = r.String(MaxStageID) }

// StageList lists stages whose ID has Prefix: of this channel, or of the
// whole cluster when Cluster is set (lobby search). Answered with StageListResp.
type StageList struct {
	Prefix  string
	Max     uint16
	Cluster bool
}

func (*StageList) Type() Type { return TStageList }
func (m *StageList) Encode(w *Writer) {
	w.String(m.Prefix)
	w.U16(m.Max)
	w.Bool(m.Cluster)
}
func (m *StageList) Decode(r *Reader) {
	m.Prefix = r.String(MaxStageID)
	m.Max = r.U16()
	m.Cluster = r.Bool()
}

// Member is one character in a stage or guild.
type Member struct {
	CharID uint32
	Name   string
	Ready  bool // reservation ready flag (stages); online (guild lists)
}

func (m *Member) encode(w *Writer) {
	w.U32(m.CharID)
	w.String(m.Name)
	w.Bool(m.Ready)
}
func (m *Member) decode(r *Reader) {
	m.CharID = r.U32()
	m.Name = r.String(MaxName)
	m.Ready = r.Bool()
}

const memberMin = 4 + 2 + 1

func encodeMembers(w *Writer, ms []Member) {
	w.U16(uint16(len(ms)))
	for i := range ms {
		ms[i].encode(w)
	}
}

func decodeMembers(r *Reader) []Member {
	n := r.Count(MaxList, memberMin)
	if n == 0 {
		return nil
	}
	ms := make([]Member, n)
	for i := range ms {
		ms[i].decode(r)
	}
	return ms
}

// StageInfo describes a stage: its members and its reservations.
type StageInfo struct {
	StageID      string
	HostID       uint32
	MaxPlayers   uint16
	Locked       bool
	HasPassword  bool
	Members      []Member
	Reservations []Member
}

func (*StageInfo) Type() Type { return TStageInfo }
func (m *StageInfo) Encode(w *Writer) {
	w.String(m.StageID)
	w.U32(m.HostID)
	w.U16(m.MaxPlayers)
	w.Bool(m.Locked)
	w.Bool(m.HasPassword)
	encodeMembers(w, m.Members)
	encodeMembers(w, m.Reservations)
}
func (m *StageInfo) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.HostID = r.U32()
	m.MaxPlayers = r.U16()
	m.Locked = r.Bool()
	m.HasPassword = r.Bool()
	m.Members = decodeMembers(r)
	m.Reservations = decodeMembers(r)
}

// StageEntry is one stage in a StageListResp.
type StageEntry struct {
	StageID     string
	ChannelID   uint16
	Addr        string
	Players     uint16
	MaxPlayers  uint16
	Locked      bool
	HasPassword bool
}

const stageEntryMin = 2 + 2 + 2 + 2 + 2 + 1 + 1

// StageListResp answers StageList.
type StageListResp struct{ Stages []StageEntry }

func (*StageListResp) Type() Type { return TStageListResp }
func (m *StageListResp) Encode(w *Writer) {
	w.U16(uint16(len(m.Stages)))
	for _, s := range m.Stages {
		w.String(s.StageID)
		w.U16(s.ChannelID)
		w.String(s.Addr)
		w.U16(s.Players)
		w.U16(s.MaxPlayers)
		w.Bool(s.Locked)
		w.Bool(s.HasPassword)
	}
}
func (m *StageListResp) Decode(r *Reader) {
	n := r.Count(MaxList, stageEntryMin)
	if n == 0 {
		return
	}
	m.Stages = make([]StageEntry, n)
	for i := range m.Stages {
		s := &m.Stages[i]
		s.StageID = r.String(MaxStageID)
		s.ChannelID = r.U16()
		s.Addr = r.String(MaxShort)
		s.Players = r.U16()
		s.MaxPlayers = r.U16()
		s.Locked = r.Bool()
		s.HasPassword = r.Bool()
	}
}

// StageJoined (push) tells stage members that a character entered.
type StageJoined struct {
	StageID string
	CharID  uint32
	Name    string
}

func (*StageJoined) Type() Type { return TStageJoined }
func (m *StageJoined) Encode(w *Writer) {
	w.String(m.StageID)
	w.U32(m.CharID)
	w.String(m.Name)
}
func (m *StageJoined) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.CharID = r.U32()
	m.Name = r.String(MaxName)
}

// StageLeft (push) tells stage members that a character left.
type StageLeft struct {
	StageID string
	CharID  uint32
}

func (*StageLeft) Type() Type { return TStageLeft }
func (m *StageLeft) Encode(w *Writer) {
	w.String(m.StageID)
	w.U32(m.CharID)
}
func (m *StageLeft) Decode(r *Reader) {
	m.StageID = r.String(MaxStageID)
	m.CharID = r.U32()
}

// ---- casts ----

// Cast sends an opaque payload to a scope. Targets is used with
// ScopeTargets. With request ID 0 no OK is sent; otherwise OK.ID is the
// number of recipients found online (for ScopeTargets) or 0.
type Cast struct {
	Scope   uint8
	Targets []uint32
	Payload []byte
}

func (*Cast) Type() Type { return TCast }
func (m *Cast) Encode(w *Writer) {
	w.U8(m.Scope)
	w.U16(uint16(len(m.Targets)))
	for _, t := range m.Targets {
		w.U32(t)
	}
	w.Blob(m.Payload)
}
func (m *Cast) Decode(r *Reader) {
	m.Scope = r.U8()
	if n := r.Count(MaxList, 4); n > 0 {
		m.Targets = make([]uint32, n)
		for i := range m.Targets {
			m.Targets[i] = r.U32()
		}
	}
	m.Payload = r.Blob(MaxCastPayload)
}

// CastMsg (push) delivers a cast, stamped with the sender.
type CastMsg struct {
	Scope      uint8
	SenderID   uint32
	SenderName string
	Payload    []byte
}

func (*CastMsg) Type() Type { return TCastMsg }
func (m *CastMsg) Encode(w *Writer) {
	w.U8(m.Scope)
	w.U32(m.SenderID)
	w.String(m.SenderName)
	w.Blob(m.Payload)
}
func (m *CastMsg) Decode(r *Reader) {
	m.Scope = r.U8()
	m.SenderID = r.U32()
	m.SenderName = r.String(MaxName)
	m.Payload = r.Blob(MaxCastPayload)
}

// MailNotify (push) says mail arrived.
type MailNotify struct {
	MailID   int64
	FromID   uint32
	FromName string
	Subject  string
}

func (*MailNotify) Type() Type { return TMailNotify }
func (m *MailNotify) Encode(w *Writer) {
	w.I64(m.MailID)
	w.U32(m.FromID)
	w.String(m.FromName)
	w.String(m.Subject)
}
func (m *MailNotify) Decode(r *Reader) {
	m.MailID = r.I64()
	m.FromID = r.U32()
	m.FromName = r.String(MaxName)
	m.Subject = r.String(MaxShort)
}

// Kicked (push) precedes a server-initiated close.
type Kicked struct{ Reason string }

func (*Kicked) Type() Type         { return TKicked }
func (m *Kicked) Encode(w *Writer) { w.String(m.Reason) }
func (m *Kicked) Decode(r *Reader) { m.Reason = r.String(MaxShort) }

// Notice (push) is a server message to players, e.g. a drain warning.
type Notice struct{ Text string }

func (*Notice) Type() Type         { return TNotice }
func (m *Notice) Encode(w *Writer) { w.String(m.Text) }
func (m *Notice) Decode(r *Reader) { m.Text = r.String(MaxText) }

// GuildEvent (push) tells guild members and invitees what happened.
type GuildEvent struct {
	GuildID   uint32
	GuildName string
	Event     uint8
	CharID    uint32
	Name      string
}

func (*GuildEvent) Type() Type { return TGuildEvent }
func (m *GuildEvent) Encode(w *Writer) {
	w.U32(m.GuildID)
	w.String(m.GuildName)
	w.U8(m.Event)
	w.U32(m.CharID)
	w.String(m.Name)
}
func (m *GuildEvent) Decode(r *Reader) {
	m.GuildID = r.U32()
	m.GuildName = r.String(MaxName)
	m.Event = r.U8()
	m.CharID = r.U32()
	m.Name = r.String(MaxName)
}

// PlayersOffline (push) says characters went offline without logging out:
// the replica that served them stopped answering and its lease expired, so
// the registry's sweeper removed them. At most MaxList players per message;
// Member.Ready is unused (false).
type PlayersOffline struct {
	Players []Member
}

func (*PlayersOffline) Type() Type         { return TPlayersOffline }
func (m *PlayersOffline) Encode(w *Writer) { encodeMembers(w, m.Players) }
func (m *PlayersOffline) Decode(r *Reader) { m.Players = decodeMembers(r) }

// ---- semaphores ----

// SemaAcquire takes a semaphore: local to the channel (with Capacity, 0
// meaning 1) or cluster-wide when Global. Answered with OK (ID = fencing
// token for global ones) or Error CodeSemaHeld with the holder's channel.
type SemaAcquire struct {
	Name     string
	Global   bool
	Capacity uint16
}

func (*SemaAcquire) Type() Type { return TSemaAcquire }
func (m *SemaAcquire) Encode(w *Writer) {
	w.String(m.Name)
	w.Bool(m.Global)
	w.U16(m.Capacity)
}
func (m *SemaAcquire) Decode(r *Reader) {
	m.Name = r.String(MaxStageID)
	m.Global = r.Bool()
	m.Capacity = r.U16()
}

// SemaRelease releases a semaphore the session holds.
type SemaRelease struct {
	Name   string
	Global bool
}

func (*SemaRelease) Type() Type { return TSemaRelease }
func (m *SemaRelease) Encode(w *Writer) {
	w.String(m.Name)
	w.Bool(m.Global)
}
func (m *SemaRelease) Decode(r *Reader) {
	m.Name = r.String(MaxStageID)
	m.Global = r.Bool()
}

// SemaWrite stores Data under a global semaphore the session holds; the
// server attaches the holder's fencing token and the store refuses it
// (CodeStaleToken) if a newer holder has written since.
type SemaWrite struct {
	Name string
	Data []byte
}

func (*SemaWrite) Type() Type { return TSemaWrite }
func (m *SemaWrite) Encode(w *Writer) {
	w.String(m.Name)
	w.Blob(m.Data)
}
func (m *SemaWrite) Decode(r *Reader) {
	m.Name = r.String(MaxStageID)
	m.Data = r.Blob(MaxStageBinary)
}

// ---- character data ----

// SaveData replaces the character's save data.
type SaveData struct{ Data []byte }

func (*SaveData) Type() Type         { return TSaveData }
func (m *SaveData) Encode(w *Writer) { w.Blob(m.Data) }
func (m *SaveData) Decode(r *Reader) { m.Data = r.Blob(MaxSaveData) }

// LoadData asks for the character's save data; answered with CharData.
type LoadData struct{}

func (*LoadData) Type() Type       { return TLoadData }
func (*LoadData) Encode(w *Writer) {}
func (*LoadData) Decode(r *Reader) {}

// CharData answers LoadData. Hash is the SHA-256 of Data.
type CharData struct {
	Data     []byte
	Hash     []byte
	Playtime uint32 // seconds
}

func (*CharData) Type() Type { return TCharData }
func (m *CharData) Encode(w *Writer) {
	w.Blob(m.Data)
	w.Blob(m.Hash)
	w.U32(m.Playtime)
}
func (m *CharData) Decode(r *Reader) {
	m.Data = r.Blob(MaxSaveData)
	m.Hash = r.Blob(64)
	m.Playtime = r.U32()
}

// ---- mail ----

// MailSend sends mail to ToID, or to ToName when ToID is 0. Answered with
// OK (ID = mail ID) once the mail is durable.
type MailSend struct {
	ToID    uint32
	ToName  string
	Subject string
	Body    string
}

func (*MailSend) Type() Type { return TMailSend }
func (m *MailSend) Encode(w *Writer) {
	w.U32(m.ToID)
	w.String(m.ToName)
	w.String(m.Subject)
	w.String(m.Body)
}
func (m *MailSend) Decode(r *Reader) {
	m.ToID = r.U32()
	m.ToName = r.String(MaxName)
	m.Subject = r.String(MaxShort)
	m.Body = r.String(MaxText)
}

// MailList asks for the inbox; answered with MailListResp.
type MailList struct{}

func (*MailList) Type() Type       { return TMailList }
func (*MailList) Encode(w *Writer) {}
func (*MailList) Decode(r *Reader) {}

// MailRead asks for one mail (marking it read); answered with MailBody.
type MailRead struct{ ID int64 }

func (*MailRead) Type() Type         { return TMailRead }
func (m *MailRead) Encode(w *Writer) { w.I64(m.ID) }
func (m *MailRead) Decode(r *Reader) { m.ID = r.I64() }

// MailDelete deletes one mail of the inbox.
type MailDelete struct{ ID int64 }

func (*MailDelete) Type() Type         { return TMailDelete }
func (m *MailDelete) Encode(w *Writer) { w.I64(m.ID) }
func (m *MailDelete) Decode(r *Reader) { m.ID = r.I64() }

// MailHeader is one inbox entry.
type MailHeader struct {
	ID       int64
	FromID   uint32
	FromName string
	Subject  string
	SentAt   int64 // unix seconds
	Read     bool
	Guild    bool
}

const mailHeaderMin = 8 + 4 + 2 + 2 + 8 + 1 + 1

func (h *MailHeader) encode(w *Writer) {
	w.I64(h.ID)
	w.U32(h.FromID)
	w.String(h.FromName)
	w.String(h.Subject)
	w.I64(h.SentAt)
	w.Bool(h.Read)
	w.Bool(h.Guild)
}
func (h *MailHeader) decode(r *Reader) {
	h.ID = r.I64()
	h.FromID = r.U32()
	h.FromName = r.String(MaxName)
	h.Subject = r.String(MaxShort)
	h.SentAt = r.I64()
	h.Read = r.Bool()
	h.Guild = r.Bool()
}

// MailListResp answers MailList, newest first.
type MailListResp struct{ Mail []MailHeader }

func (*MailListResp) Type() Type { return TMailListResp }
func (m *MailListResp) Encode(w *Writer) {
	w.U16(uint16(len(m.Mail)))
	for i := range m.Mail {
		m.Mail[i].encode(w)
	}
}
func (m *MailListResp) Decode(r *Reader) {
	n := r.Count(MaxList, mailHeaderMin)
	if n == 0 {
		return
	}
	m.Mail = make([]MailHeader, n)
	for i := range m.Mail {
		m.Mail[i].decode(r)
	}
}

// MailBody answers MailRead.
type MailBody struct {
	Header MailHeader
	Body   string
}

func (*MailBody) Type() Type { return TMailBody }
func (m *MailBody) Encode(w *Writer) {
	m.Header.encode(w)
	w.String(m.Body)
}
func (m *MailBody) Decode(r *Reader) {
	m.Header.decode(r)
	m.Body = r.String(MaxText)
}

// ---- guilds ----

// GuildCreate creates a guild led by the session's character; OK.ID is its ID.
type GuildCreate struct{ Name string }

func (*GuildCreate) Type() Type         { return TGuildCreate }
func (m *GuildCreate) Encode(w *Writer) { w.String(m.Name) }
func (m *GuildCreate) Decode(r *Reader) { m.Name = r.String(MaxName) }

// GuildInvite invites a character to the leader's guild.
type GuildInvite struct{ CharID uint32 }

func (*GuildInvite) Type() Type         { return TGuildInvite }
func (m *GuildInvite) Encode(w *Writer) { w.U32(m.CharID) }
func (m *GuildInvite) Decode(r *Reader) { m.CharID = r.U32() }

// GuildApply applies to join a guild.
type GuildApply struct{ GuildID uint32 }

func (*GuildApply) Type() Type         { return TGuildApply }
func (m *GuildApply) Encode(w *Writer) { w.U32(m.GuildID) }
func (m *GuildApply) Decode(r *Reader) { m.GuildID = r.U32() }

// GuildAccept accepts an invitation to GuildID (sent by the invitee) or an
// application from CharID (sent by the leader; GuildID 0).
type GuildAccept struct {
	GuildID uint32
	CharID  uint32
}

func (*GuildAccept) Type() Type { return TGuildAccept }
func (m *GuildAccept) Encode(w *Writer) {
	w.U32(m.GuildID)
	w.U32(m.CharID)
}
func (m *GuildAccept) Decode(r *Reader) {
	m.GuildID = r.U32()
	m.CharID = r.U32()
}

// GuildLeave leaves the guild (a leader leaving disbands it).
type GuildLeave struct{}

func (*GuildLeave) Type() Type       { return TGuildLeave }
func (*GuildLeave) Encode(w *Writer) {}
func (*GuildLeave) Decode(r *Reader) {}

// GuildKick removes a member (leader only).
type GuildKick struct{ CharID uint32 }

func (*GuildKick) Type() Type         { return TGuildKick }
func (m *GuildKick) Encode(w *Writer) { w.U32(m.CharID) }
func (m *GuildKick) Decode(r *Reader) { m.CharID = r.U32() }

// GuildMembers asks for the session's guild; answered with GuildInfo.
type GuildMembers struct{}

func (*GuildMembers) Type() Type       { return TGuildMembers }
func (*GuildMembers) Encode(w *Writer) {}
func (*GuildMembers) Decode(r *Reader) {}

// GuildMail mails every member of the sender's guild; OK.ID is the count.
type GuildMail struct{ Subject, Body string }

func (*GuildMail) Type() Type { return TGuildMail }
func (m *GuildMail) Encode(w *Writer) {
	w.String(m.Subject)
	w.String(m.Body)
}
func (m *GuildMail) Decode(r *Reader) {
	m.Subject = r.String(MaxShort)
	m.Body = r.String(MaxText)
}

// GuildInfo answers GuildMembers. Member.Ready means online.
type GuildInfo struct {
	GuildID  uint32
	Name     string
	LeaderID uint32
	Members  []Member
}

func (*GuildInfo) Type() Type { return TGuildInfo }
func (m *GuildInfo) Encode(w *Writer) {
	w.U32(m.GuildID)
	w.String(m.Name)
	w.U32(m.LeaderID)
	encodeMembers(w, m.Members)
}
func (m *GuildInfo) Decode(r *Reader) {
	m.GuildID = r.U32()
	m.Name = r.String(MaxName)
	m.LeaderID = r.U32()
	m.Members = decodeMembers(r)
}

// ---- finding players ----

// FindPlayer asks where a character is online, by ID or (ID 0) by name.
// Answered with PlayerInfo.
type FindPlayer struct {
	CharID uint32
	Name   string
}

func (*FindPlayer) Type() Type { return TFindPlayer }
func (m *FindPlayer) Encode(w *Writer) {
	w.U32(m.CharID)
	w.String(m.Name)
}
func (m *FindPlayer) Decode(r *Reader) {
	m.CharID = r.U32()
	m.Name = r.String(MaxName)
}

// SearchPlayers searches online players across the cluster; answered with PlayerList.
type SearchPlayers struct {
	NamePrefix string
	StageID    string
	Max        uint16
}

func (*SearchPlayers) Type() Type { return TSearchPlayers }
func (m *SearchPlayers) Encode(w *Writer) {
	w.String(m.NamePrefix)
	w.String(m.StageID)
	w.U16(m.Max)
}
func (m *SearchPlayers) Decode(r *Reader) {
	m.NamePrefix = r.String(MaxName)
	m.StageID = r.String(MaxStageID)
	m.Max = r.U16()
}

// PlayerLoc is where a player is online.
type PlayerLoc struct {
	CharID    uint32
	Name      string
	ReplicaID string
	ChannelID uint16
	Addr      string
	StageID   string
}

const playerLocMin = 4 + 2 + 2 + 2 + 2 + 2

func (p *PlayerLoc) encode(w *Writer) {
	w.U32(p.CharID)
	w.String(p.Name)
	w.String(p.ReplicaID)
	w.U16(p.ChannelID)
	w.String(p.Addr)
	w.String(p.StageID)
}
func (p *PlayerLoc) decode(r *Reader) {
	p.CharID = r.U32()
	p.Name = r.String(MaxName)
	p.ReplicaID = r.String(MaxShort)
	p.ChannelID = r.U16()
	p.Addr = r.String(MaxShort)
	p.StageID = r.String(MaxStageID)
}

// PlayerInfo answers FindPlayer.
type PlayerInfo struct {
	Found  bool
	Player PlayerLoc
}

func (*PlayerInfo) Type() Type { return TPlayerInfo }
func (m *PlayerInfo) Encode(w *Writer) {
	w.Bool(m.Found)
	m.Player.encode(w)
}
func (m *PlayerInfo) Decode(r *Reader) {
	m.Found = r.Bool()
	m.Player.decode(r)
}

// PlayerList answers SearchPlayers.
type PlayerList struct{ Players []PlayerLoc }

func (*PlayerList) Type() Type { return TPlayerList }
func (m *PlayerList) Encode(w *Writer) {
	w.U16(uint16(len(m.Players)))
	for i := range m.Players {
		m.Players[i].encode(w)
	}
}
func (m *PlayerList) Decode(r *Reader) {
	n := r.Count(MaxList, playerLocMin)
	if n == 0 {
		return
	}
	m.Players = make([]PlayerLoc, n)
	for i := range m.Players {
		m.Players[i].decode(r)
	}
}
