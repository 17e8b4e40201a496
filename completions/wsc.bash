# SPDX-License-Identifier: MIT
# bash completion for wsc(1), the WebSocket client.       -*- shell-script -*-
# Installed as $(datadir)/bash-completion/completions/wsc; or source it.

_wsc()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    # "--color=al": bash splits at '=' (COMP_WORDBREAKS), giving "--color" "=" "al".
    if [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    elif [[ $cur == = ]]; then
        cur=
    fi

    case $prev in
        --ca|--cert|--key|--unix-listen|-f|--script|--record|--replay)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --binary-format)
            COMPREPLY=($(compgen -W 'hex base64 raw' -- "$cur"))
            return ;;
        --color)
            COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
            return ;;
        -p|--protocol-version)
            COMPREPLY=($(compgen -W '13 8' -- "$cur"))
            return ;;
        -e|--exec)
            COMPREPLY=($(compgen -c -- "$cur"))
            return ;;
        -c|--connect|-l|--listen|--bind|--max-clients|-H|--header|-o|--origin|\
        -s|--subprotocol|--auth|--max-redirects|--proxy|--connect-timeout|\
        --handshake-timeout|--close-timeout|--passphrase|--max-message|\
        --ping-interval|--ping-timeout|--reconnect|-x|--execute|-w|--wait|--chunk|\
        --passenv|--forward|--tcp-listen|--allow-origin|\
        --until|--count|--timeout|--replay-speed|--replay-client|--to)
            return ;;  # a value of the user's own
    esac

    if [[ $cur == -* ]]; then
        local opts='--connect --listen --bind --max-clients --header --origin --subprotocol
            --protocol-version --auth --location --max-redirects --proxy --connect-timeout
            --handshake-timeout --close-timeout --ipv4 --ipv6 --insecure --no-check --ca
            --cert --key --passphrase --http2 --http2-prior-knowledge --http1.1
            --no-deflate --max-message --ping-interval
            --ping-timeout --reconnect --exec --passenv --forward --tcp-listen --unix-listen
            --allow-origin --execute --wait --one --echo --binary --chunk --null
            --until --count --timeout --script --record --record-secrets --replay
            --replay-speed --replay-client --strict --to
            --binary-format --show-ping-pong --timestamps --jsonl --pretty --color --no-color
            --interactive --no-interactive --verbose --trace --quiet --help --version
            -c -l -H -o -s -p -L -4 -6 -k -n -e -x -w -1 -b -0 -f -P -T -i -v -q'
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    # Anything else is the URL: nothing to offer.
    COMPREPLY=()
} &&
complete -F _wsc wsc
