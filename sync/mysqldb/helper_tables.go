package mysqldb

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	dbsync "github.com/dbsync/dbsync/sync"
)

// Helper tables of a MySQL run carry the run in their name:
//
//	<table>__dbsync_new_<token>    the staging table
//	<table>__dbsync_old_<token>    the previous rows, from the RENAME to their DROP
//	<table>__dbsync_delta_<token>  a merge's differences
//
// token is runTokenLen hex digits of a hash of the run id. A run creates,
// loads, renames and drops only tables named with its own token, so a run
// that lost its lock (its connection was closed) can never load into,
// swap in or drop the tables of the run that took the lock over, and the
// other way round only begin's repair drops another run's tables: those
// of runs the history records as running while this run holds their lock
// (killed ones), or whose own mark names the run of their name (a run that
// ended but could not drop them). Two runs of one table share a token only
// if their ids hash alike in 32 bits, and even then only when the first
// lost its lock while the second ran.
//
// SQLite's staging and delta tables live inside the run's one transaction
// (BEGIN IMMEDIATE), which no other run can see or share, so they keep the
// plain names <table>__dbsync_new and <table>__dbsync_delta.
const runTokenLen = 8

// runToken is the part of helper table names that names runID.
func runToken(runID string) string {
	sum := sha256.Sum256([]byte(runID))
	return hex.EncodeToString(sum[:])[:runTokenLen]
}

// helperName is the name of table's helper table of kind suffix
// (stageSuffix, oldSuffix, deltaSuffix) for the run of token. A name that
// would not fit MySQL's 64 characters or a file name keeps the start of
// the table name and adds a hash of all of it, so that two long names with
// one start still differ.
func helperName(table, suffix, token string) string {
	name := table + suffix + "_" + token
	if fitsMySQLName(name) {
		return name
	}
	sum := sha256.Sum256([]byte(table))
	tail := "_" + hex.EncodeToString(sum[:])[:8] + suffix + "_" + token
	r := []rune(table)
	for n := len(r) - 1; n > 0; n-- {
		// MySQL table names may not end with a space.
		if name := strings.TrimRight(string(r[:n]), " ") + tail; fitsMySQLName(name) {
			return name
		}
	}
	return tail[1:]
}

// fitsMySQLName: MySQL takes name as a table name (64 characters) and can
// keep the table in a file named after it (checkTableName explains).
func fitsMySQLName(name string) bool {
	return utf8.RuneCountInString(name) <= dbsync.MaxIdentifierChars && dbsync.FileNameBytes(name)+len(".ibd") <= dbsync.MaxFileNameBytes
}

// helperPattern is a LIKE pattern matching table's helper tables of kind
// suffix of every run: helperName with any token (its shape does not
// depend on the token's value).
func helperPattern(table, suffix string) string {
	name := helperName(table, suffix, strings.Repeat("0", runTokenLen))
	return likeEscape(name[:len(name)-runTokenLen]) + strings.Repeat("_", runTokenLen)
}

// likeEscape quotes LIKE's wildcards and its escape character.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// helperToken is the token a helper table's name ends with.
func helperToken(name string) string {
	if len(name) < runTokenLen {
		return ""
	}
	return name[len(name)-runTokenLen:]
}

// markRunID is the run id an ownership mark names ("dbsync-owned: staging
// table of run <id>; …"), or "" when comment is no mark.
func markRunID(comment string) string {
	rest, ok := strings.CutPrefix(comment, ownMark)
	if !ok {
		return ""
	}
	_, after, ok := strings.Cut(rest, "run ")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, ";")
	return strings.TrimSpace(id)
}
