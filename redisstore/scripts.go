package redisstore

import "github.com/redis/go-redis/v9"

// The tenant scripts. Every write to a tenant is one of them, so it is
// atomic: Redis runs a script alone, and replicates and appends it to the
// AOF as one MULTI/EXEC block. They touch keys of one group only (one hash
// tag, one Cluster slot):
//
//	KEYS[1] {p:g}:seq      the group's version counter (string)
//	KEYS[2] {p:g}:due      the group's due index (sorted set)
//	KEYS[3] {p:g}:tenants  the group's tenants (sorted set, score 0)
//	KEYS[4] {p:g}:t:<t>    the tenant (hash)
//	KEYS[5] {p:g}:h:<t>    the tenant's history entries (hash)
//	KEYS[6] {p:g}:hi:<t>   the tenant's history index (sorted set, score 0)
//	KEYS[7] {p:g}:t::<T>   its standalone twin, for a workspace of an enterprise,
//	KEYS[8] {p:g}:h::<T>   with the twin's history
//	KEYS[9] {p:g}:hi::<T>  and history index
//
// (the update script gets KEYS[1] to KEYS[4] only).
//
// A tenant hash holds:
//
//	v          the tenant's Version
//	w          a token naming the write that set v (a retried write finds its own)
//	lrec       the latest installation, without bot and user (JSON)
//	luser, lu  the latest installer (JSON) and their user ID ("" for none)
//	lk         "1" when the latest installer holds a user token
//	ld, bd     due times (Unix ms, 0 for none) of the latest installer's and the bot's tokens
//	bot        the bot (JSON), absent when none
//	r:<uid>    user uid's installation without user (JSON), for every user
//	p:<uid>    but the latest installer, whose installation is lrec and luser;
//	           p:<uid> is the user (JSON)
//	k:<uid>    "1" when r:<uid> and p:<uid> hold a user token
//
// The latest installer's installation is stored once: when another user
// installs, the scripts copy lrec and luser to r:<uid> and p:<uid> as they
// are.
//
// A history entry is field "<when>:<uid>" of the history hash (the entry,
// JSON) and member "<when>:<uid>" of the history index, where <when> is the
// install time as 24 hex digits (16 of Unix seconds + 2^63, 8 of
// nanoseconds), so that the index's lexicographic order is install time
// order. The store script writes the entry with the record; deletes remove
// a tenant's history whole, or a user's entries; nothing else touches it.
//
// The scripts never parse JSON, so what a record holds never stops a write
// or a delete. Before writing, they check the types of the keys they write,
// so that no command fails half-way through a script.
const luaCommon = `
local SEQ, DUE, TENANTS = KEYS[1], KEYS[2], KEYS[3]

local function num(x) return tonumber(x) or 0 end
local function fmt(n) return string.format('%d', n) end
local function typ(key) return redis.call('TYPE', key)['ok'] end

local function indexok()
  local a, b, c = typ(SEQ), typ(DUE), typ(TENANTS)
  return (a == 'none' or a == 'string') and (b == 'none' or b == 'zset') and (c == 'none' or c == 'zset')
end

-- newversion returns a Version larger than any the group gave out and than
-- the tenant's stored one: the counter + 1, at least the server's clock in
-- microseconds (so that a lost counter cannot give out a used Version).
local function newversion(key)
  local n = redis.call('INCR', SEQ)
  local t = redis.call('TIME')
  local m = math.max(n, tonumber(t[1]) * 1000000 + tonumber(t[2]))
  if typ(key) == 'hash' then m = math.max(m, num(redis.call('HGET', key, 'v')) + 1) end
  if m ~= n then redis.call('SET', SEQ, fmt(m)) end
  return fmt(m)
end

local function setdue(member, score)
  if score > 0 then redis.call('ZADD', DUE, fmt(score), member) else redis.call('ZREM', DUE, member) end
end

local function mindue(a, b)
  if a <= 0 then return b end
  if b <= 0 then return a end
  return math.min(a, b)
end

local function latestdue(key, tenant)
  local f = redis.call('HMGET', key, 'bd', 'ld')
  setdue(tenant, mindue(num(f[1]), num(f[2])))
end

-- droptenant deletes a tenant whatever its key holds, with its index entries.
local function droptenant(key, tenant)
  local ty = typ(key)
  if ty == 'none' then return end
  if ty == 'hash' then
    local lu = redis.call('HGET', key, 'lu')
    if lu and lu ~= '' then redis.call('ZREM', DUE, tenant .. '#' .. lu) end
    for _, f in ipairs(redis.call('HKEYS', key)) do
      if string.sub(f, 1, 2) == 'r:' then redis.call('ZREM', DUE, tenant .. '#' .. string.sub(f, 3)) end
    end
  else
    -- The user IDs are lost with the hash: find its users' entries.
    local cursor = '0'
    repeat
      local r = redis.call('ZSCAN', DUE, cursor, 'MATCH', tenant .. '#*', 'COUNT', 1000)
      cursor = r[1]
      for i = 1, #r[2], 2 do redis.call('ZREM', DUE, r[2][i]) end
    until cursor == '0'
  end
  redis.call('ZREM', DUE, tenant)
  redis.call('ZREM', TENANTS, tenant)
  redis.call('DEL', key)
end

-- historyok reports whether history keys h and hi hold what the store writes.
local function historyok(h, hi)
  local a, b = typ(h), typ(hi)
  return (a == 'none' or a == 'hash') and (b == 'none' or b == 'zset')
end

-- dropuserhistory deletes user uid's entries of the history h, hi. A key
-- holding another type (no entry of it can be read) is deleted.
local function dropuserhistory(h, hi, uid)
  local pattern = string.rep('?', 24) .. ':' .. uid
  local function each(key, scan, fn)
    local cursor = '0'
    repeat
      local r = redis.call(scan, key, cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = r[1]
      for i = 1, #r[2], 2 do fn(r[2][i]) end
    until cursor == '0'
  end
  local ti, th = typ(hi), typ(h)
  if ti == 'zset' then
    each(hi, 'ZSCAN', function(m) redis.call('ZREM', hi, m) end)
  elseif ti ~= 'none' then
    redis.call('DEL', hi)
  end
  if th == 'hash' then
    each(h, 'HSCAN', function(f) redis.call('HDEL', h, f) end)
  elseif th ~= 'none' then
    redis.call('DEL', h)
  end
end

-- setflag sets a "1" field, or removes it.
local function setflag(key, field, on)
  if on then redis.call('HSET', key, field, '1') else redis.call('HDEL', key, field) end
end

-- hastoken reports whether a tenant still holds a bot or a user token.
local function hastoken(key)
  if redis.call('HEXISTS', key, 'bot') == 1 or redis.call('HGET', key, 'lk') == '1' then return true end
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 2) == 'k:' then return true end
  end
  return false
end

-- versionof returns the stored Version of a tenant hash, false when the
-- key does not exist, and '?' when it holds something else.
local function versionof(key)
  local ty = typ(key)
  if ty == 'none' then return false end
  if ty ~= 'hash' then return '?' end
  return redis.call('HGET', key, 'v') or '?'
end
`

// storeScript writes a tenant's latest installation (and user's, and bot):
// StoreInstallation. ARGV: tenant, twin tenant ("" for none), write token,
// lrec, luser, user ID, user due, user holds a token ("1"/""), bot (""
// keeps the stored one), bot due, history entry's field ("" with history
// off), and the entry's JSON before and after its Version. The previous
// latest installer, when another user, keeps their installation as
// r:/p:/k: fields. It replaces a tenant key of another type, refuses
// history keys of another type (WRONGTYPE, before writing anything), and
// removes the twin's record (not its history). It returns the new Version.
var storeScript = redis.NewScript(luaCommon + `
if not indexok() then return redis.error_reply('WRONGTYPE index keys of group') end
local hfield = ARGV[11] or ''
if hfield ~= '' and not historyok(KEYS[5], KEYS[6]) then
  return redis.error_reply('WRONGTYPE history keys of tenant')
end
local key, tenant, uid = KEYS[4], ARGV[1], ARGV[6]
if typ(key) ~= 'hash' then droptenant(key, tenant) end
local f = redis.call('HMGET', key, 'lu', 'lrec', 'luser', 'lk')
local oldlu = f[1] or ''
if oldlu ~= '' and oldlu ~= uid then
  redis.call('HSET', key, 'r:' .. oldlu, f[2] or '', 'p:' .. oldlu, f[3] or '')
  setflag(key, 'k:' .. oldlu, f[4] == '1')
end
if uid ~= '' then redis.call('HDEL', key, 'r:' .. uid, 'p:' .. uid, 'k:' .. uid) end
local v = newversion(key)
redis.call('HSET', key, 'v', v, 'w', ARGV[3], 'lrec', ARGV[4], 'luser', ARGV[5], 'lu', uid, 'ld', ARGV[7])
setflag(key, 'lk', ARGV[8] == '1')
if ARGV[9] ~= '' then redis.call('HSET', key, 'bot', ARGV[9], 'bd', ARGV[10]) end
if uid ~= '' then setdue(tenant .. '#' .. uid, num(ARGV[7])) end
latestdue(key, tenant)
redis.call('ZADD', TENANTS, '0', tenant)
if hfield ~= '' then
  redis.call('HSET', KEYS[5], hfield, ARGV[12] .. v .. ARGV[13])
  redis.call('ZADD', KEYS[6], '0', hfield)
end
if ARGV[2] ~= '' then droptenant(KEYS[7], ARGV[2]) end
return v
`)

// putHistoryScript is PutHistory: KEYS[1] the history hash, KEYS[2] its
// index; ARGV: the entry's field, the entry. It returns 1.
var putHistoryScript = redis.NewScript(luaCommon + `
if not historyok(KEYS[1], KEYS[2]) then return redis.error_reply('WRONGTYPE history keys of tenant') end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], '0', ARGV[1])
return 1
`)

// updateScript is UpdateInstallation: ARGV: tenant, write token, expected
// Version, user ID, lrec, luser, user due, user holds a token, bot (""
// keeps it), bot due. It returns {code, Version}: code "ok", "conflict"
// (Version is the stored one), "notfound" (no tenant), "nouser" (no such
// user installation), "owned" (the latest installation is a user's: update
// it with that user's ID), "corrupt" (no Version).
var updateScript = redis.NewScript(luaCommon + `
if not indexok() then return redis.error_reply('WRONGTYPE index keys of group') end
local key, tenant, uid = KEYS[4], ARGV[1], ARGV[4]
local ty = typ(key)
if ty == 'none' then return {'notfound', ''} end
if ty ~= 'hash' then return {'corrupt', ''} end
local f = redis.call('HMGET', key, 'v', 'w', 'lu')
if not f[1] then return {'corrupt', ''} end
if f[1] ~= ARGV[3] then
  if f[2] == ARGV[2] then return {'ok', f[1]} end
  return {'conflict', f[1]}
end
local lu = f[3] or ''
if uid == lu then
  redis.call('HSET', key, 'lrec', ARGV[5], 'luser', ARGV[6], 'ld', ARGV[7])
  setflag(key, 'lk', ARGV[8] == '1')
elseif uid == '' then
  return {'owned', f[1]}
elseif redis.call('HEXISTS', key, 'r:' .. uid) == 1 then
  redis.call('HSET', key, 'r:' .. uid, ARGV[5], 'p:' .. uid, ARGV[6])
  setflag(key, 'k:' .. uid, ARGV[8] == '1')
else
  return {'nouser', f[1]}
end
if uid ~= '' then setdue(tenant .. '#' .. uid, num(ARGV[7])) end
if ARGV[9] ~= '' then redis.call('HSET', key, 'bot', ARGV[9], 'bd', ARGV[10]) end
latestdue(key, tenant)
local v = newversion(key)
redis.call('HSET', key, 'v', v, 'w', ARGV[2])
return {'ok', v}
`)

// deleteScript is DeleteInstallation and DeleteBot, with or without a
// Version condition on the tenant itself (no fallback; a tenant that does
// not exist is not an error). ARGV: tenant, twin tenant ("" for none),
// write token, what ("tenant", "user" or "bot"), user ID, expected Version
// ("" for none). A tenant delete deletes the tenant's history, a user
// delete the user's entries, or the whole history when it leaves the
// tenant with no token and so drops it (with history on or off); a bot
// delete none. A
// tenant or user delete of a workspace of an enterprise also deletes the
// same of its standalone twin; a bot delete does not. It returns {code,
// Version}: "ok" or "conflict" (Version is the stored one).
var deleteScript = redis.NewScript(luaCommon + `
if not indexok() then return redis.error_reply('WRONGTYPE index keys of group') end
local what, uid, expected, token = ARGV[4], ARGV[5], ARGV[6], ARGV[3]

-- deluser returns true when it dropped the whole tenant.
local function deluser(key, tenant)
  local ty = typ(key)
  if ty == 'none' then return false end
  if ty ~= 'hash' then droptenant(key, tenant) return true end
  local had = redis.call('HEXISTS', key, 'r:' .. uid)
  redis.call('HDEL', key, 'r:' .. uid, 'p:' .. uid, 'k:' .. uid)
  if redis.call('HGET', key, 'lu') == uid then
    redis.call('HDEL', key, 'luser', 'lk')
    redis.call('HSET', key, 'lu', '', 'ld', '0')
    had = 1
  end
  redis.call('ZREM', DUE, tenant .. '#' .. uid)
  if had == 0 then return false end
  if not hastoken(key) then droptenant(key, tenant) return true end
  latestdue(key, tenant)
  redis.call('HSET', key, 'v', newversion(key), 'w', token)
  return false
end

local function delbot(key, tenant)
  local ty = typ(key)
  if ty == 'none' then return end
  if ty ~= 'hash' then droptenant(key, tenant) return end
  if redis.call('HEXISTS', key, 'bot') == 0 then return end
  redis.call('HDEL', key, 'bot', 'bd')
  latestdue(key, tenant)
  redis.call('HSET', key, 'v', newversion(key), 'w', token)
end

local function del(key, tenant, h, hi)
  if what == 'tenant' then
    droptenant(key, tenant)
    redis.call('DEL', h, hi)
  elseif what == 'user' then
    if deluser(key, tenant) then redis.call('DEL', h, hi) else dropuserhistory(h, hi, uid) end
  else delbot(key, tenant) end
end

local main, twin = KEYS[4], KEYS[7]
if expected ~= '' then
  local v = versionof(main)
  if not v then return {'ok', ''} end
  if v ~= expected then
    if v ~= '?' and redis.call('HGET', main, 'w') == token then return {'ok', ''} end
    return {'conflict', v}
  end
end
del(main, ARGV[1], KEYS[5], KEYS[6])
if twin and what ~= 'bot' then del(twin, ARGV[2], KEYS[8], KEYS[9]) end
return {'ok', ''}
`)
