# Sourced by scripts/check and scripts/demo: what the project needs from
# Debian, and how it is built. One list, one build.
H111_PACKAGES="autoconf automake make gcc pkg-config libevent-dev libpq-dev \
libconfig-dev libcmocka-dev libjansson-dev libutf8proc-dev libpcre2-dev \
libsystemd-dev liblinear-dev postgresql postgresql-client python3 procps valgrind prometheus \
postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl"
# Only the SIP end-to-end test needs these (scripts/check); where they cannot
# be installed, that test is skipped, loudly, and the rest still runs.
H111_SIP_PACKAGES="kamailio kamailio-extra-modules sip-tester"

h111_missing() {
	missing=
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	echo "$missing"
}

h111_apt() {
	[ -n "${h111_updated:-}" ] || apt-get update -qq
	h111_updated=1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"$@" >/dev/null
}

h111_install_deps() {
	missing=$(h111_missing $H111_PACKAGES "$@")
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing" >&2
		echo "install them with: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	h111_apt $missing
}

# The SIP test's tools: never fatal.
h111_install_sip_deps() {
	missing=$(h111_missing $H111_SIP_PACKAGES)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" = 0 ] && echo "installing:$missing" && h111_apt $missing; then
		return 0
	fi
	echo "WARNING: could not install$missing: the SIP end-to-end test will be SKIPPED" >&2
}

# h111_build DIR [configure arguments]: a build tree beside the sources.
h111_build() {
	dir=$1
	shift
	[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || { ./autogen.sh; exit 1; }
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ]; then
		(cd "$dir" && ../configure --enable-werror "$@" >configure.out 2>&1) ||
			{ tail -20 "$dir/configure.out" >&2; exit 1; }
	fi
	make -C "$dir" -j"$(nproc)" -s >/dev/null 2>"$dir/make.err" ||
		{ cat "$dir/make.err" >&2; exit 1; }
}

# h111_private_conf DIR CONNINFO RULES: the daemon's configuration for a
# private run (the demo, the benchmarks), every socket and file inside DIR.
h111_private_conf() {
	cat >"$1/hotline111d.conf" <<-CONF
	log:      { level = "info"; escalation_log = "$1/escalations.log"; };
	database: { conninfo = "$2"; };
	bridge:   { listen = [ "unix:$1/bridge.sock" ]; };
	console:  { listen = [ "unix:$1/console.sock" ]; };
	spool:    { dir = "$1/spool"; };
	triage:   { rules = "$3"; };
	metrics:  { listen = ""; };
	CONF
}
