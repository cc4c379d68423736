#!/usr/bin/env bash
# broker.sh runs a real single-node Apache Kafka broker (KRaft, broker and
# controller in one process) on 127.0.0.1 for slhf's integration tests. The
# broker's jars come from Maven Central through deploy/kafka/pom.xml.
#
# Usage:
#   broker.sh fetch VERSION                 resolve the jars (cached), print their folder
#   broker.sh start VERSION PORT DATA_DIR   format storage if new, start, wait until ready
#   broker.sh stop DATA_DIR                 SIGTERM, SIGKILL after a timeout; idempotent
#   broker.sh restart DATA_DIR              stop, then start with the same settings and data
#   broker.sh kill DATA_DIR                 SIGKILL at once (crash test); idempotent
#   broker.sh logs DATA_DIR                 print DATA_DIR/broker.log
#   broker.sh status DATA_DIR               exit 0 and print the bootstrap address if running
#   broker.sh create-topic DATA_DIR NAME PARTITIONS [KEY=VALUE ...]
#
# Environment (all optional):
#   SLHF_KAFKA_CACHE          jar cache root; default $HOME/.cache/slhf-kafka. Jars of
#                             VERSION land in $SLHF_KAFKA_CACHE/VERSION/libs, Maven's
#                             repository in $SLHF_KAFKA_CACHE/m2.
#   SLHF_KAFKA_CONTROLLER_PORT controller listener port; default PORT+1.
#   SLHF_KAFKA_AUTO_CREATE    auto.create.topics.enable; default false, so a typo in a
#                             topic name is an error and tests create their topics.
#   SLHF_KAFKA_START_TIMEOUT  seconds to wait for readiness; default 90.
#   SLHF_KAFKA_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL; default 30.
#   SLHF_KAFKA_HEAP           JVM heap flags; default "-Xms256m -Xmx768m".
#   SLHF_KAFKA_JVM_OPTS       extra JVM flags.
#   JAVA_HOME                 Java 17 or later; default: java on PATH.
#
# Files in DATA_DIR: server.properties, broker.env (settings for restart),
# broker.pid, broker.log (log4j), broker.out (JVM stdout/stderr), kraft/ (data).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"
POM="${REPO_ROOT}/deploy/kafka/pom.xml"
CACHE="${SLHF_KAFKA_CACHE:-${HOME}/.cache/slhf-kafka}"
START_TIMEOUT="${SLHF_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${SLHF_KAFKA_STOP_TIMEOUT:-30}"
HEAP="${SLHF_KAFKA_HEAP:--Xms256m -Xmx768m}"
JAVA="${JAVA_HOME:+${JAVA_HOME}/bin/}java"
JAVAC="${JAVA_HOME:+${JAVA_HOME}/bin/}javac"

die() {
	echo "broker.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '5,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# logging_profile picks the Maven profile (and config style) of a release line:
# Kafka 4 logs through log4j2, Kafka 3 through the log4j 1.2 API (reload4j).
logging_profile() {
	case "$1" in
	3.*) echo reload4j ;;
	4.* | 5.*) echo log4j2 ;;
	*) die "unsupported Kafka version $1 (want 3.x or 4.x)" ;;
	esac
}

# fetch resolves VERSION's jars once; a finished copy is marked by .complete
# so that an interrupted download is redone rather than half used.
fetch() {
	local version="$1" libs="${CACHE}/$1/libs"
	if [[ -f "${libs}/.complete" ]]; then
		echo "${libs}"
		return
	fi
	command -v mvn >/dev/null || die "mvn not found; install Maven 3.8+"
	rm -rf "${libs}"
	mkdir -p "${libs}"
	mvn -q -B -f "${POM}" -Dstyle.color=never \
		-Dmaven.repo.local="${CACHE}/m2" \
		-Dkafka.version="${version}" -P "$(logging_profile "${version}")" \
		-Dkafka.libs="${libs}" dependency:copy-dependencies >"${CACHE}/$1/mvn.log" 2>&1 ||
		die "resolve kafka_2.13:${version} from Maven Central failed; see ${CACHE}/$1/mvn.log"
	ls "${libs}"/kafka_2.13-"${version}".jar >/dev/null 2>&1 ||
		die "resolve kafka_2.13:${version}: broker jar missing in ${libs}"
	touch "${libs}/.complete"
	echo "${libs}"
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_of prints the broker's pid if the pid file names a live Kafka process
# started for this DATA_DIR; a stale file (or a pid reused by some other
# process) prints nothing, so stop and kill never signal a stranger.
pid_of() {
	local dir="$1" pid
	[[ -f "${dir}/broker.pid" ]] || return 0
	pid="$(cat "${dir}/broker.pid")"
	[[ "${pid}" =~ ^[0-9]+$ ]] || return 0
	[[ -r "/proc/${pid}/cmdline" ]] || return 0
	if tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -qF "${dir}/server.properties"; then
		echo "${pid}"
	fi
}

write_server_properties() {
	local dir="$1" port="$2" cport="$3" auto="$4"
	cat >"${dir}/server.properties" <<EOF
# Written by scripts/kafka/broker.sh; single node, test use only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${cport}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${dir}/kraft
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=${auto}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a SIGKILL the new incarnation is refused (DUPLICATE_BROKER_REGISTRATION)
# until the old session expires; 3 s instead of 9 s keeps crash tests short.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000
# message.max.bytes keeps its default (1 MiB) so "too large" rejections are real.
log.retention.hours=24
log.segment.bytes=16777216
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
}

write_log_config() {
	local dir="$1" profile="$2"
	if [[ "${profile}" == log4j2 ]]; then
		cat >"${dir}/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${dir}/broker.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
		echo "-Dlog4j2.configurationFile=${dir}/log4j2.properties"
	else
		cat >"${dir}/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${dir}/broker.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
		echo "-Dlog4j.configuration=file:${dir}/log4j.properties"
	fi
}

# format writes KRaft metadata once; a DATA_DIR that was formatted before
# keeps its data, which is what restart relies on.
format_storage() {
	local dir="$1" libs="$2" logopt="$3" id
	[[ -f "${dir}/kraft/meta.properties" ]] && return 0
	id="$("${JAVA}" "${logopt}" -cp "${libs}/*" kafka.tools.StorageTool random-uuid)"
	"${JAVA}" "${logopt}" -cp "${libs}/*" kafka.tools.StorageTool format \
		-t "${id}" -c "${dir}/server.properties" >>"${dir}/broker.out" 2>&1 ||
		die "format storage in ${dir} failed; see ${dir}/broker.out"
}

launch() {
	local dir="$1" libs="$2" logopt="$3"
	# setsid: the broker outlives the calling shell and ignores its ^C; the
	# caller stops it with "broker.sh stop".
	# shellcheck disable=SC2086
	setsid "${JAVA}" ${HEAP} ${SLHF_KAFKA_JVM_OPTS:-} -Djava.awt.headless=true "${logopt}" \
		-cp "${libs}/*" kafka.Kafka "${dir}/server.properties" \
		>>"${dir}/broker.out" 2>&1 </dev/null &
	echo $! >"${dir}/broker.pid"
}

# wait_ready polls until the listener accepts TCP and the log says the
# server started, then asks for cluster metadata; all within START_TIMEOUT.
wait_ready() {
	local dir="$1" port="$2" libs="$3" logopt="$4" deadline left
	deadline=$((SECONDS + START_TIMEOUT))
	until port_open "${port}" && grep -q "Kafka Server started" "${dir}/broker.log" 2>/dev/null; do
		if [[ -z "$(pid_of "${dir}")" ]]; then
			tail -n 20 "${dir}/broker.log" "${dir}/broker.out" >&2 2>/dev/null || true
			die "broker exited during start; see ${dir}/broker.log and ${dir}/broker.out"
		fi
		((SECONDS < deadline)) ||
			die "broker not ready after ${START_TIMEOUT}s; see ${dir}/broker.log"
		sleep 0.2
	done
	left=$((deadline - SECONDS))
	((left > 1)) || left=2
	admin "${libs}" "${logopt}" ready "127.0.0.1:${port}" "$((left * 1000))" >&2 ||
		die "broker accepts connections but serves no metadata; see ${dir}/broker.log"
}

# admin runs KafkaAdmin.java with the broker's jars. It is compiled once per
# version and script content into the cache (saves ~3 s of in-memory javac per
# call); without javac, Java's single-file source launcher runs it directly.
admin() {
	local libs="$1" logopt="$2" out sum
	shift 2
	sum="$(sha256sum "${SCRIPT_DIR}/KafkaAdmin.java" | cut -c1-12)"
	out="$(dirname "${libs}")/admin-${sum}"
	if [[ ! -f "${out}/KafkaAdmin.class" ]] && command -v "${JAVAC}" >/dev/null; then
		mkdir -p "${out}.tmp"
		"${JAVAC}" -nowarn -d "${out}.tmp" -cp "${libs}/*" "${SCRIPT_DIR}/KafkaAdmin.java" &&
			rm -rf "${out}" && mv "${out}.tmp" "${out}"
	fi
	if [[ -f "${out}/KafkaAdmin.class" ]]; then
		"${JAVA}" "${logopt}" -cp "${out}:${libs}/*" KafkaAdmin "$@"
	else
		"${JAVA}" "${logopt}" -cp "${libs}/*" "${SCRIPT_DIR}/KafkaAdmin.java" "$@"
	fi
}

# tool_logopt sends the admin helper's own client logs to DATA_DIR/tools.log.
tool_logopt() {
	local dir="$1" profile="$2"
	if [[ "${profile}" == log4j2 ]]; then
		sed -e "s#${dir}/broker.log#${dir}/tools.log#" -e 's/^rootLogger.level = INFO/rootLogger.level = WARN/' \
			"${dir}/log4j2.properties" >"${dir}/tools-log4j2.properties"
		echo "-Dlog4j2.configurationFile=${dir}/tools-log4j2.properties"
	else
		sed -e "s#${dir}/broker.log#${dir}/tools.log#" -e 's/^log4j.rootLogger=INFO/log4j.rootLogger=WARN/' \
			"${dir}/log4j.properties" >"${dir}/tools-log4j.properties"
		echo "-Dlog4j.configuration=file:${dir}/tools-log4j.properties"
	fi
}

cmd_start() {
	[[ $# -eq 3 ]] || usage
	local version="$1" port="$2" dir="$3" cport libs profile logopt toolopt t0
	t0=${SECONDS}
	[[ "${port}" =~ ^[0-9]+$ ]] || die "port ${port} is not a number"
	mkdir -p "${dir}"
	dir="$(cd "${dir}" && pwd)"
	[[ -z "$(pid_of "${dir}")" ]] || die "a broker already runs for ${dir} (pid $(pid_of "${dir}"))"
	cport="${SLHF_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
	port_free "${port}" || die "port ${port} on 127.0.0.1 is in use"
	port_free "${cport}" || die "controller port ${cport} on 127.0.0.1 is in use"
	"${JAVA}" -version >/dev/null 2>&1 || die "java not found; install Java 17+ or set JAVA_HOME"

	libs="$(fetch "${version}")"
	profile="$(logging_profile "${version}")"
	printf 'VERSION=%s\nPORT=%s\nCONTROLLER_PORT=%s\nAUTO_CREATE=%s\n' "${version}" "${port}" \
		"${cport}" "${SLHF_KAFKA_AUTO_CREATE:-false}" >"${dir}/broker.env"
	write_server_properties "${dir}" "${port}" "${cport}" "${SLHF_KAFKA_AUTO_CREATE:-false}"
	logopt="$(write_log_config "${dir}" "${profile}")"
	toolopt="$(tool_logopt "${dir}" "${profile}")"

	format_storage "${dir}" "${libs}" "${toolopt}"
	launch "${dir}" "${libs}" "${logopt}"
	wait_ready "${dir}" "${port}" "${libs}" "${toolopt}"
	echo "kafka ${version} ready on 127.0.0.1:${port} (controller ${cport}, pid $(cat "${dir}/broker.pid")," \
		"$((SECONDS - t0))s); log ${dir}/broker.log" >&2
	echo "127.0.0.1:${port}"
}

# signal_and_wait sends SIG to the broker and waits up to WAIT seconds for
# it to exit; it returns 1 if the process is still alive afterwards.
signal_and_wait() {
	local dir="$1" sig="$2" wait="$3" pid deadline
	pid="$(pid_of "${dir}")"
	[[ -n "${pid}" ]] || return 0
	kill "-${sig}" "${pid}" 2>/dev/null || true
	deadline=$((SECONDS + wait))
	while kill -0 "${pid}" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

cmd_stop() {
	[[ $# -eq 1 ]] || usage
	local dir
	[[ -d "$1" ]] || return 0
	dir="$(cd "$1" && pwd)"
	if [[ -z "$(pid_of "${dir}")" ]]; then
		rm -f "${dir}/broker.pid"
		echo "broker for ${dir} not running" >&2
		return 0
	fi
	if ! signal_and_wait "${dir}" TERM "${STOP_TIMEOUT}"; then
		echo "broker.sh: no exit ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL" >&2
		signal_and_wait "${dir}" KILL 10 || die "broker for ${dir} survived SIGKILL"
	fi
	rm -f "${dir}/broker.pid"
	echo "broker for ${dir} stopped" >&2
}

cmd_kill() {
	[[ $# -eq 1 ]] || usage
	local dir
	[[ -d "$1" ]] || return 0
	dir="$(cd "$1" && pwd)"
	if [[ -z "$(pid_of "${dir}")" ]]; then
		rm -f "${dir}/broker.pid"
		echo "broker for ${dir} not running" >&2
		return 0
	fi
	signal_and_wait "${dir}" KILL 10 || die "broker for ${dir} survived SIGKILL"
	rm -f "${dir}/broker.pid"
	echo "broker for ${dir} killed" >&2
}

load_env() {
	[[ -f "$1/broker.env" ]] || die "no broker.env in $1; run start first"
	# shellcheck disable=SC1091
	source "$1/broker.env"
}

cmd_restart() {
	[[ $# -eq 1 ]] || usage
	local dir
	dir="$(cd "$1" && pwd)"
	load_env "${dir}"
	cmd_stop "${dir}"
	# shellcheck disable=SC2153 # VERSION, PORT, ... come from broker.env
	SLHF_KAFKA_CONTROLLER_PORT="${CONTROLLER_PORT}" SLHF_KAFKA_AUTO_CREATE="${AUTO_CREATE}" \
		cmd_start "${VERSION}" "${PORT}" "${dir}"
}

cmd_status() {
	[[ $# -eq 1 ]] || usage
	local dir
	dir="$(cd "$1" && pwd)"
	load_env "${dir}"
	[[ -n "$(pid_of "${dir}")" ]] || die "broker for ${dir} not running"
	# shellcheck disable=SC2153 # PORT comes from broker.env
	echo "127.0.0.1:${PORT}"
}

cmd_create_topic() {
	[[ $# -ge 3 ]] || usage
	local dir libs
	dir="$(cd "$1" && pwd)"
	shift
	load_env "${dir}"
	libs="$(fetch "${VERSION}")"
	admin "${libs}" "$(tool_logopt "${dir}" "$(logging_profile "${VERSION}")")" \
		create-topic "127.0.0.1:${PORT}" "$@"
}

main() {
	[[ $# -ge 1 ]] || usage
	local sub="$1"
	shift
	case "${sub}" in
	fetch) [[ $# -eq 1 ]] || usage; fetch "$1" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	restart) cmd_restart "$@" ;;
	kill) cmd_kill "$@" ;;
	logs) [[ $# -eq 1 ]] || usage; cat "$1/broker.log" ;;
	status) cmd_status "$@" ;;
	create-topic) cmd_create_topic "$@" ;;
	*) usage ;;
	esac
}

main "$@"
