/*
 * console_proto.h: the console protocol's facts that the daemon's server
 * (console.c) and the operators' program (hotline111.c) share: its version,
 * the roles, and each command's name, least role, whether it changes state,
 * the request's keys and its help line. Each table starts with one of the
 * CONSOLE_CMD_ lists, so a command is described once; doc/console-protocol.md
 * and hotline111(1) describe the same.
 */
#ifndef HOTLINE111_CONSOLE_PROTO_H
#define HOTLINE111_CONSOLE_PROTO_H

#define CONSOLE_PROTO 1

enum console_role { CONSOLE_OPERATOR, CONSOLE_SUPERVISOR, CONSOLE_ADMIN };
#define CONSOLE_ROLE_NAMES                                                                         \
	{                                                                                          \
		"operator", "supervisor", "admin"                                                  \
	}

/* name, least role, changes state, the request's keys, help */
#define CONSOLE_CMD_HELP "help", CONSOLE_OPERATOR, 0, "", "the commands, their roles and arguments"
#define CONSOLE_CMD_QUEUE                                                                          \
	"queue", CONSOLE_OPERATOR, 0,                                                              \
	    "[priority:1..4] [mine:bool] [operator:string|none] [province:string] "                \
	    "[category:string|none] [unanswered:bool]",                                            \
	    "open cases, most urgent and nearest deadline first; the filters combine"
#define CONSOLE_CMD_SHOW                                                                           \
	"show", CONSOLE_OPERATOR, 0, "case:int",                                                   \
	    "a case with its tickets, notes, events, triage (each rule with its words), "          \
	    "timers, escalations"
#define CONSOLE_CMD_CLAIM                                                                          \
	"claim", CONSOLE_OPERATOR, 1, "case:int", "take a case (a supervisor may take it over)"
#define CONSOLE_CMD_ASSIGN                                                                         \
	"assign", CONSOLE_SUPERVISOR, 1, "case:int operator:string",                               \
	    "give a case to an operator; its previous owner is told"
#define CONSOLE_CMD_RELEASE                                                                        \
	"release", CONSOLE_OPERATOR, 1, "case:int",                                                \
	    "give a case back to the queue (its owner or a supervisor)"
#define CONSOLE_CMD_NOTE                                                                           \
	"note", CONSOLE_OPERATOR, 1, "case:int text:string",                                       \
	    "append a note; the case is triaged again on it"
#define CONSOLE_CMD_QUESTIONS                                                                      \
	"questions", CONSOLE_OPERATOR, 0, "case:int",                                              \
	    "the rules' key questions, with the case's answers so far"
#define CONSOLE_CMD_ASSESS                                                                         \
	"assess", CONSOLE_OPERATOR, 1, "case:int answers:object",                                  \
	    "answer key questions; the case is triaged again on its text and all its answers"
#define CONSOLE_CMD_SET                                                                            \
	"set", CONSOLE_OPERATOR, 1, "case:int [category:string] [priority:1..4] [reason:string]",  \
	    "change category or priority; lowering needs a supervisor and a reason"
#define CONSOLE_CMD_CLOSE                                                                          \
	"close", CONSOLE_OPERATOR, 1, "case:int outcome:string [referred_to:string]",              \
	    "close a case with its outcome (referred needs referred_to)"
#define CONSOLE_CMD_ACK                                                                            \
	"ack", CONSOLE_SUPERVISOR, 1, "escalation:int",                                            \
	    "acknowledge an escalation: its deadline stops escalating"
#define CONSOLE_CMD_ESCALATIONS                                                                    \
	"escalations", CONSOLE_OPERATOR, 0, "[all:bool] [limit:1..1000]",                          \
	    "escalations not acknowledged, oldest first; with all, the latest, acknowledged or "   \
	    "not"
#define CONSOLE_CMD_FIND                                                                           \
	"find", CONSOLE_SUPERVISOR, 0, "caller:string [limit:1..1000]",                            \
	    "a caller's cases, newest first: a repeat caller's history (audited)"
#define CONSOLE_CMD_HOLD                                                                           \
	"hold", CONSOLE_SUPERVISOR, 1, "case:int reason:string",                                   \
	    "pause the act and plan clocks while an outside party acts"
#define CONSOLE_CMD_RESUME                                                                         \
	"resume", CONSOLE_SUPERVISOR, 1, "case:int [reason:string]", "restart a held case's clocks"
#define CONSOLE_CMD_TAIL                                                                           \
	"tail", CONSOLE_OPERATOR, 0, "[escalations:bool]",                                         \
	    "stream case changes and escalations as alerts"
#define CONSOLE_CMD_REPORT                                                                         \
	"report", CONSOLE_OPERATOR, 0,                                                             \
	    "from:YYYY-MM-DD to:YYYY-MM-DD [triage:bool] (with triage, from and to optional)",     \
	    "calls received, answered, abandoned; cases by category and province; with triage, "   \
	    "the rules' first decisions against people's at close"
#define CONSOLE_CMD_STATUS                                                                         \
	"status", CONSOLE_OPERATOR, 0, "", "daemon, database, connections; today's calls"
#define CONSOLE_CMD_RELOAD                                                                         \
	"reload", CONSOLE_SUPERVISOR, 1, "", "re-read the configuration and the rules"

#endif
