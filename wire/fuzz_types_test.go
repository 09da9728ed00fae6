package wire_test

// One fuzz target per message decoder; fuzzType is in fuzz_test.go.
// Keep in sync with wire.Types() (TestFuzzTargetsCoverEveryType checks).

import (
	"testing"

	"github.com/guildhall/guildhall/wire"
)

func FuzzDecodeHello(f *testing.F)          { fuzzType(f, wire.THello) }
func FuzzDecodeWelcome(f *testing.F)        { fuzzType(f, wire.TWelcome) }
func FuzzDecodeError(f *testing.F)          { fuzzType(f, wire.TError) }
func FuzzDecodeOK(f *testing.F)             { fuzzType(f, wire.TOK) }
func FuzzDecodePing(f *testing.F)           { fuzzType(f, wire.TPing) }
func FuzzDecodePong(f *testing.F)           { fuzzType(f, wire.TPong) }
func FuzzDecodeLogout(f *testing.F)         { fuzzType(f, wire.TLogout) }
func FuzzDecodeStageCreate(f *testing.F)    { fuzzType(f, wire.TStageCreate) }
func FuzzDecodeStageEnter(f *testing.F)     { fuzzType(f, wire.TStageEnter) }
func FuzzDecodeStageMove(f *testing.F)      { fuzzType(f, wire.TStageMove) }
func FuzzDecodeStageBack(f *testing.F)      { fuzzType(f, wire.TStageBack) }
func FuzzDecodeStageLeave(f *testing.F)     { fuzzType(f, wire.TStageLeave) }
func FuzzDecodeStageLock(f *testing.F)      { fuzzType(f, wire.TStageLock) }
func FuzzDecodeStageReserve(f *testing.F)   { fuzzType(f, wire.TStageReserve) }
func FuzzDecodeStageUnreserve(f *testing.F) { fuzzType(f, wire.TStageUnreserve) }
func FuzzDecodeStageReady(f *testing.F)     { fuzzType(f, wire.TStageReady) }
func FuzzDecodeStageSetBinary(f *testing.F) { fuzzType(f, wire.TStageSetBinary) }
func FuzzDecodeStageGetBinary(f *testing.F) { fuzzType(f, wire.TStageGetBinary) }
func FuzzDecodeStageClients(f *testing.F)   { fuzzType(f, wire.TStageClients) }
func FuzzDecodeStageList(f *testing.F)      { fuzzType(f, wire.TStageList) }
func FuzzDecodeStageInfo(f *testing.F)      { fuzzType(f, wire.TStageInfo) }
func FuzzDecodeStageBinary(f *testing.F)    { fuzzType(f, wire.TStageBinary) }
func FuzzDecodeStageListResp(f *testing.F)  { fuzzType(f, wire.TStageListResp) }
func FuzzDecodeStageJoined(f *testing.F)    { fuzzType(f, wire.TStageJoined) }
func FuzzDecodeStageLeft(f *testing.F)      { fuzzType(f, wire.TStageLeft) }
func FuzzDecodeCastMsg(f *testing.F)        { fuzzType(f, wire.TCastMsg) }
func FuzzDecodeMailNotify(f *testing.F)     { fuzzType(f, wire.TMailNotify) }
func FuzzDecodeKicked(f *testing.F)         { fuzzType(f, wire.TKicked) }
func FuzzDecodeNotice(f *testing.F)         { fuzzType(f, wire.TNotice) }
func FuzzDecodeGuildEvent(f *testing.F)     { fuzzType(f, wire.TGuildEvent) }
func FuzzDecodePlayersOffline(f *testing.F) { fuzzType(f, wire.TPlayersOffline) }
func FuzzDecodeCast(f *testing.F)           { fuzzType(f, wire.TCast) }
func FuzzDecodeSemaAcquire(f *testing.F)    { fuzzType(f, wire.TSemaAcquire) }
func FuzzDecodeSemaRelease(f *testing.F)    { fuzzType(f, wire.TSemaRelease) }
func FuzzDecodeSemaWrite(f *testing.F)      { fuzzType(f, wire.TSemaWrite) }
func FuzzDecodeSaveData(f *testing.F)       { fuzzType(f, wire.TSaveData) }
func FuzzDecodeLoadData(f *testing.F)       { fuzzType(f, wire.TLoadData) }
func FuzzDecodeCharData(f *testing.F)       { fuzzType(f, wire.TCharData) }
func FuzzDecodeMailSend(f *testing.F)       { fuzzType(f, wire.TMailSend) }
func FuzzDecodeMailList(f *testing.F)       { fuzzType(f, wire.TMailList) }
func FuzzDecodeMailRead(f *testing.F)       { fuzzType(f, wire.TMailRead) }
func FuzzDecodeMailDelete(f *testing.F)     { fuzzType(f, wire.TMailDelete) }
func FuzzDecodeMailListResp(f *testing.F)   { fuzzType(f, wire.TMailListResp) }
func FuzzDecodeMailBody(f *testing.F)       { fuzzType(f, wire.TMailBody) }
func FuzzDecodeGuildCreate(f *testing.F)    { fuzzType(f, wire.TGuildCreate) }
func FuzzDecodeGuildInvite(f *testing.F)    { fuzzType(f, wire.TGuildInvite) }
func FuzzDecodeGuildApply(f *testing.F)     { fuzzType(f, wire.TGuildApply) }
func FuzzDecodeGuildAccept(f *testing.F)    { fuzzType(f, wire.TGuildAccept) }
func FuzzDecodeGuildLeave(f *testing.F)     { fuzzType(f, wire.TGuildLeave) }
func FuzzDecodeGuildKick(f *testing.F)      { fuzzType(f, wire.TGuildKick) }
func FuzzDecodeGuildMembers(f *testing.F)   { fuzzType(f, wire.TGuildMembers) }
func FuzzDecodeGuildMail(f *testing.F)      { fuzzType(f, wire.TGuildMail) }
func FuzzDecodeGuildInfo(f *testing.F)      { fuzzType(f, wire.TGuildInfo) }
func FuzzDecodeFindPlayer(f *testing.F)     { fuzzType(f, wire.TFindPlayer) }
func FuzzDecodeSearchPlayers(f *testing.F)  { fuzzType(f, wire.TSearchPlayers) }
func FuzzDecodePlayerInfo(f *testing.F)     { fuzzType(f, wire.TPlayerInfo) }
func FuzzDecodePlayerList(f *testing.F)     { fuzzType(f, wire.TPlayerList) }
