#!/usr/bin/env bash
# Make pdflatex (with booktabs) available so the table tests compile what `make tables` writes,
# e.g. that a bold value in scientific notation really renders bold. Installs Debian's
# texlive-latex-base and texlive-latex-recommended (about 150 MB) with apt-get only when no
# pdflatex is found and we are root (or have passwordless sudo). It never fails the build: when
# it cannot install, it says why and the compile tests skip with a reason. CARPS_NO_TEX_INSTALL=1
# skips the install.
set -uo pipefail

skip() { echo "ensure-tex: $* -- the LaTeX compile tests will skip" >&2; exit 0; }

command -v pdflatex >/dev/null 2>&1 && kpsewhich booktabs.sty >/dev/null 2>&1 && exit 0
[ "${CARPS_NO_TEX_INSTALL:-0}" = 1 ] && skip "pdflatex/booktabs not found and CARPS_NO_TEX_INSTALL=1"
. "$(dirname "$0")/apt-install.sh"
echo "ensure-tex: installing Debian's texlive-latex-base and texlive-latex-recommended ..." >&2
apt_install "pdflatex with booktabs" texlive-latex-base texlive-latex-recommended
command -v pdflatex >/dev/null 2>&1 || skip "installed TeX Live but found no pdflatex"
echo "ensure-tex: installed $(pdflatex --version | head -n1)" >&2
exit 0
