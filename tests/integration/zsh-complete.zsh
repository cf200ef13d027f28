# zsh-complete.zsh DIR LINE... — what zsh's completion offers after each LINE, with the completion
# functions of DIR first in fpath: one interactive zsh in a pseudo-terminal (zsh/zpty) gets each
# LINE and a TAB, with compadd wrapped to print every candidate as <<candidate>>; after each
# LINE's candidates comes a line "@@end@@". Used by test_completion.py.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'zstyle ":completion:*" menu no'
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local r=$? h; for h in $__hits; do print -r -- "<<$h>>"; done; builtin compadd "$@"; return r }'
# A NUL line before and after each completion (the hooks are used once, so TAB sets them anew).
zpty -w z 'null-line () { echo -E - $'"'"'\0'"'"' }; capture () { compprefuncs=( null-line ); comppostfuncs=( null-line ); zle complete-word }; zle -N capture; bindkey "^I" capture'
shift
for words in "$@"; do
  # The line, a TAB, then ^U to clear it for the next one.
  zpty -n -w z "$words"$'\t'
  integer seen=0
  while zpty -r z line; do
    print -rn -- "$line"
    [[ $line == *$'\0'* ]] && (( ++seen == 2 )) && break
  done
  print -r -- "@@end@@"
  zpty -n -w z $'\C-u'
done
zpty -d z
