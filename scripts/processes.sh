# Start a server in a session of its own and prove, before any signal, that a pid is still it.
# Sourced by server.sh (the MLflow server) and s3.sh (the local S3 server); not run alone.
#
# A pid file is the server's identity record. The pid comes first (answers.py reads it), then
# what a reused pid or a copied folder cannot fake together:
#   <pid>
#   started=<ps -o lstart: the process's start time>
#   since=<seconds since the epoch, taken just before the start>
#   folder=<this project's folder, absolute>
#   port=<the port it serves>
#   command=<its whole command line, as ps shows it>
# Only `ps` and `kill`, with the options Linux and macOS share: no /proc, no setsid(1).

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

say() { echo "$*" >&2; }

# The whole command line of process $1 (-ww: never cut), or nothing if it is gone.
command_of() { ps -ww -p "$1" -o command= 2>/dev/null; }

# True if process $1 runs (a zombie, dead but not yet reaped by its parent, does not).
running() {
    local stat
    stat=$(ps -p "$1" -o stat= 2>/dev/null) && [[ -n $stat && $stat != *Z* ]]
}

# True if any process of process group $1 runs (zombies aside).
group_running() {
    ps -A -o pgid= -o stat= 2>/dev/null | awk -v group="$1" '
        $1 == group && $2 !~ /Z/ { found = 1 }
        END { exit !found }'
}

# The start time of process $1 (e.g. "Sat Nov 28 00:46:16 2026"), or nothing if it is gone.
started_of() {
    local started
    started=$(ps -p "$1" -o lstart= 2>/dev/null) || return 0
    echo "${started#"${started%%[![:space:]]*}"}"
}

# Run "$@" in the background in a new session (and process group) whose id is its pid, so the
# whole group can be stopped, workers included. Python's os.setsid: setsid(1) is Linux-only.
# $1 is the Python to do it with, $2 the log file. Sets launched_pid.
launch_in_own_session() {
    local python=$1 log=$2
    shift 2
    "$python" -c 'import os, sys; os.setsid(); os.execv(sys.argv[1], sys.argv[1:])' "$@" \
        >"$log" 2>&1 </dev/null &
    launched_pid=$!
}

# Write the identity record of process $2 (serving port $3, started at epoch $4) to file $1,
# once it runs the program it was launched for (the os.setsid wrapper has exec'd). Returns 1 if
# the process died, 2 if file $1 exists: another start (run at the same time) recorded first.
write_record() {
    local file=$1 pid=$2 port=$3 since=$4 command waited=0
    while command=$(command_of "$pid") && [[ $command == *os.setsid* ]] && ((waited < 200)); do
        sleep 0.05
        waited=$((waited + 1))
    done
    [[ -n $command && $command != *os.setsid* ]] || return 1
    printf '%s\nstarted=%s\nsince=%s\nfolder=%s\nport=%s\ncommand=%s\n' \
        "$pid" "$(started_of "$pid")" "$since" "$PROJECT_DIR" "$port" "$command" >"$file.$pid"
    # A hard link appears whole, and never replaces a file that exists.
    if ! ln "$file.$pid" "$file" 2>/dev/null; then
        rm -f "$file.$pid"
        return 2
    fi
    rm -f "$file.$pid"
}

# Read the record in file $1 into rec_pid, rec_started, rec_since, rec_folder, rec_port and
# rec_command; false if the file is not a complete record.
read_record() {
    local line
    rec_pid='' rec_started='' rec_since='' rec_folder='' rec_port='' rec_command=''
    { IFS= read -r rec_pid || true; } <"$1"
    while IFS= read -r line; do
        case $line in
        started=*) rec_started=${line#*=} ;;
        since=*) rec_since=${line#*=} ;;
        folder=*) rec_folder=${line#*=} ;;
        port=*) rec_port=${line#*=} ;;
        command=*) rec_command=${line#*=} ;;
        esac
    done < <(tail -n +2 "$1")
    [[ $rec_pid =~ ^[0-9]+$ && $rec_since =~ ^[0-9]+$ && -n $rec_started && -n $rec_folder &&
        -n $rec_port && -n $rec_command ]]
}

# Seconds in a `ps -o etime` value: [[dd-]hh:]mm:ss.
etime_seconds() {
    local time=$1 days=0 a b c
    if [[ $time == *-* ]]; then
        days=${time%%-*}
        time=${time#*-}
    fi
    IFS=: read -r a b c <<<"$time"
    if [[ -n $c ]]; then
        echo $((10#$days * 86400 + 10#$a * 3600 + 10#$b * 60 + 10#$c))
    else
        echo $((10#$days * 86400 + 10#$a * 60 + 10#$b))
    fi
}

# The pids of the processes left in process group $rec_pid after its leader died, if every one
# of them is provably ours: it runs the recorded command's program (a worker of the server) and
# started no earlier than the server. Nothing if the group is empty; false if any member is not
# ours (then none of them may be signalled).
orphans_of_record() {
    local now program pid pgid stat etime command found=()
    now=$(date +%s)
    program=${rec_command%% *}
    while read -r pid pgid stat etime command; do
        [[ $pgid == "$rec_pid" && $stat != *Z* ]] || continue
        if [[ $command != "$program"* ]] || (($(etime_seconds "$etime") > now - rec_since + 1)); then
            return 1
        fi
        found+=("$pid")
    done < <(ps -A -o pid= -o pgid= -o stat= -o etime= -o command= 2>/dev/null)
    echo "${found[*]}"
}

# What pid file $1 says about a server of this folder on port $2. Sets `verdict` to one of:
#   none         no pid file
#   ours         its process runs, with the recorded start time, command, folder and port
#   orphans      its main process is gone but its workers (in `orphans`) still run
#   other-port   ours (or its orphans), but serving port $rec_port, not $2
#   stale        its process is gone, and nothing of its group is left
#   not-ours     the pid now belongs to another process (start time or command differ)
#   elsewhere    the record was written for a server started from another folder
#   unreadable   not a complete record (e.g. a bare pid)
# and `reason`, a sentence saying why, for the last four.
check_record() {
    local file=$1 port=$2
    verdict=none reason='' orphans=''
    [[ -f $file ]] || return 0
    if ! read_record "$file"; then
        verdict=unreadable
        reason="$file is not a complete record of a server started from here"
        return 0
    fi
    if [[ $rec_folder != "$PROJECT_DIR" ]]; then
        verdict=elsewhere
        reason="pid $rec_pid is the server started from $rec_folder, not from $PROJECT_DIR"
        return 0
    fi
    if running "$rec_pid"; then
        if [[ $(started_of "$rec_pid") != "$rec_started" || $(command_of "$rec_pid") != "$rec_command" ]]; then
            verdict=not-ours
            reason="pid $rec_pid is not our server: its start time or command differ from $file"
            return 0
        fi
        verdict=ours
    elif orphans=$(orphans_of_record) && [[ -n $orphans ]]; then
        verdict=orphans
    elif group_running "$rec_pid"; then
        verdict=not-ours
        reason="process group $rec_pid holds processes that are not our server's"
        return 0
    else
        verdict=stale
        reason="pid $rec_pid is no longer running"
        return 0
    fi
    if [[ $rec_port != "$port" ]]; then
        verdict=other-port
    fi
}

# Send SIGTERM to process group $1, then SIGKILL to what still runs after 10 s; return once
# the group is gone, reaped zombies included (up to 5 s more: their parent reaps them).
stop_group() {
    local group=$1 waited=0
    kill -TERM -- "-$group" 2>/dev/null || true
    while group_running "$group" && ((waited < 20)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    kill -KILL -- "-$group" 2>/dev/null || true
    waited=0
    while kill -0 -- "-$group" 2>/dev/null && ((waited < 10)); do
        sleep 0.5
        waited=$((waited + 1))
    done
}

# Hide secrets in text on stdin: the password of any URI (scheme://user:password@host) and the
# values of the secret variables named in $SECRET_VARIABLES, read from the environment by awk
# (never put on a command line, where `ps` would show them).
mask() {
    sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#g' | awk '
        BEGIN { n = split(ENVIRON["SECRET_VARIABLES"], names, " ") }
        {
            for (k = 1; k <= n; k++) {
                secret = ENVIRON[names[k]]
                if (length(secret) < 4) continue
                while ((i = index($0, secret)) > 0)
                    $0 = substr($0, 1, i - 1) "***" substr($0, i + length(secret))
            }
            print
        }'
}
