# zsh-complete.zsh DIR WORDS — what zsh's completion offers after WORDS, with the completion
# functions of DIR first in fpath: an interactive zsh in a pseudo-terminal (zsh/zpty) gets WORDS
# and a TAB, with compadd wrapped to print every candidate as <<candidate>>. Used by
# test_completion.py, which reads the candidates from this script's output.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z 'zstyle ":completion:*" menu no'
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; typeset -a __hits; builtin compadd -A __hits "$@"; local r=$? h; for h in $__hits; do print -r -- "<<$h>>"; done; builtin compadd "$@"; return r }'
zpty -w z 'bindkey "^I" complete-word; null-line () { echo -E - $'"'"'\0'"'"' }; compprefuncs=( null-line ); comppostfuncs=( null-line exit )'
zpty -n -w z "$2"$'\t'
integer seen=0
while zpty -r z line; do
  print -rn -- "$line"
  [[ $line == *$'\0\r' ]] && (( seen++ )) && break
done
