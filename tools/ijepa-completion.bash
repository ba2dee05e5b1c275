# Bash completion for `ijepa`: `source tools/ijepa-completion.bash` (or copy it to
# ~/.local/share/bash-completion/completions/ijepa). Commands and options are read from the binary's own help
# (`ijepa` and `ijepa COMMAND --help`), so they follow the build you run; values of a few options are offered too.

# _ijepa_options BIN COMMAND...: every option the command's --help lists in its options section.
_ijepa_options() {
  local bin="$1"; shift
  "$bin" "$@" --help 2>/dev/null | awk '
    /^options:/ { on = 1; next }
    /^examples:/ { on = 0 }
    on && /^  -/ { sub(/^  /, ""); split($0, parts, /  +/); print parts[1] }' | grep -o -- '--[a-z0-9-]*'
}

_ijepa() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" bin="${COMP_WORDS[0]}"
  COMPREPLY=()
  if [ "$COMP_CWORD" -eq 1 ]; then
    local cmds
    cmds="$("$bin" 2>&1 | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' | sort -u) help --version"
    COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
    return 0
  fi
  local -a cmd=("${COMP_WORDS[1]}")
  if [ "${COMP_WORDS[1]}" = bench ]; then
    if [ "$COMP_CWORD" -eq 2 ]; then
      COMPREPLY=($(compgen -W "train data" -- "$cur"))
      return 0
    fi
    cmd+=("${COMP_WORDS[2]}")
  fi
  case "$prev" in
    --format) COMPREPLY=($(compgen -W "timm hf" -- "$cur")); return 0 ;;
    --encoder) COMPREPLY=($(compgen -W "target context" -- "$cur")); return 0 ;;
    --device) COMPREPLY=($(compgen -W "cpu cuda" -- "$cur")); return 0 ;;
    --dist-backend) COMPREPLY=($(compgen -W "auto gloo nccl" -- "$cur")); return 0 ;;
    --split) COMPREPLY=($(compgen -W "train test val" -- "$cur")); return 0 ;;
    --transform) COMPREPLY=($(compgen -W "eval none" -- "$cur")); return 0 ;;
    --evaluator) COMPREPLY=($(compgen -W "linear_probe knn low_shot attentive_probe" -- "$cur")); return 0 ;;
    --masker) COMPREPLY=($(compgen -W "multiblock block random rasterized" -- "$cur")); return 0 ;;
    --model) COMPREPLY=($(compgen -W "vit_tiny vit_small vit_base vit_large vit_huge vit_giant" -- "$cur")); return 0 ;;
    --out|--plugin-dir|--root|--data|--checkpoint|--config|--profile)
      COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$({ _ijepa_options "$bin" "${cmd[@]}"; echo --help; } | sort -u)" -- "$cur"))
    return 0
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
  compopt -o filenames 2>/dev/null
  return 0
}
complete -F _ijepa ijepa
