# bash completion for esimctl(1): commands, sub-commands, options, and the ICCIDs and jobs
# esimctl itself lists (through esimd; nothing when it is not running).

_esimctl_list()
{
    # $1: what to list (iccids, jobs); the rest: the --euicc option the command line has.
    local what=$1
    shift
    case $what in
        iccids)
            esimctl --no-ask-password "$@" list --all 2>/dev/null |
                awk 'NR > 1 && $2 ~ /^[0-9]+F?$/ { print $2 }' ;;
        jobs)
            esimctl --no-ask-password "$@" jobs 2>/dev/null |
                awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }' ;;
    esac
}

_esimctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local global_opts="-e --euicc -j --json -t --timeout --no-ask-password -q --quiet -h --help"
    local commands="status eid info list download discover enable disable delete nickname
                    notifications default-smdp reset refresh switch-slot jobs job monitor help"
    local takes_value="-e --euicc -t --timeout -c --confirmation-code -C --confirmation-code-file
                       --activation-code-file -n --nickname --imei --smdp --matching-id --smds
                       -o --operation -i --iccid -s --seq"
    local i w word command="" sub="" euicc=() args=0

    COMPREPLY=()
    # What the words so far are: the command, its sub-command, how many arguments.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            -e|--euicc)
                euicc=(--euicc "${COMP_WORDS[i+1]}")
                ((i++))
                continue ;;
            --euicc=*)
                euicc=("$word")
                continue ;;
            -*)
                for w in $takes_value; do
                    [[ $word == "$w" ]] && ((i++))
                done
                continue ;;
        esac
        if [[ -z $command ]]; then
            command=$word
        elif [[ -z $sub && ($command == notifications || $command == job) ]]; then
            sub=$word
        else
            ((args++))
        fi
    done

    # The value of an option.
    case $prev in
        -o|--operation)
            COMPREPLY=($(compgen -W "install enable disable delete rpm-enable rpm-disable rpm-delete rpm-package-result" -- "$cur"))
            return ;;
        -i|--iccid)
            COMPREPLY=($(compgen -W "$(_esimctl_list iccids "${euicc[@]}")" -- "$cur"))
            return ;;
        --activation-code-file|-C|--confirmation-code-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
    esac
    for word in $takes_value; do
        [[ $prev == "$word" ]] && return
    done

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local opts=""
    case $command in
        list) opts="-a --all" ;;
        download) opts="--activation-code-file -c --confirmation-code -C --confirmation-code-file
                        --enable -n --nickname --imei --confirm --smdp --matching-id --default-smdp" ;;
        discover) opts="--smds" ;;
        delete) opts="-y --yes" ;;
        nickname) opts="--clear" ;;
        notifications)
            case $sub in
                ""|list|send) opts="-o --operation -i --iccid -s --seq" ;;
                remove) opts="-y --yes" ;;
            esac ;;
        default-smdp) opts="--clear" ;;
        reset) opts="--operational --test --default-smdp -y --yes" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))
        return
    fi

    case $command in
        enable|disable|delete|nickname)
            ((args == 0)) &&
                COMPREPLY=($(compgen -W "$(_esimctl_list iccids "${euicc[@]}")" -- "$cur")) ;;
        notifications)
            [[ -z $sub ]] && COMPREPLY=($(compgen -W "list send remove" -- "$cur")) ;;
        job)
            if [[ -z $sub ]]; then
                COMPREPLY=($(compgen -W "show wait confirm cancel" -- "$cur"))
            elif ((args == 0)); then
                COMPREPLY=($(compgen -W "$(_esimctl_list jobs "${euicc[@]}")" -- "$cur"))
            fi ;;
        help)
            ((args == 0)) && COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
    esac
}

complete -F _esimctl esimctl
