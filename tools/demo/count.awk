# One worker of `make demo`: count what passes through it.
#
# The input is lines of the Debian package database (/var/lib/dpkg/status):
# one record per installed package, made of "Field: value" lines, with
# continuation lines that start with a space and an empty line after each
# record.  Every count is a sum over lines, so the lines can be shared out
# among workers in any way and the workers' sums still add up to the count
# over the whole file.
#
# Output: one line, "lines words bytes packages fields installed-KiB".

/^Package:/		{ packages++ }
/^Installed-Size:/	{ kib += $2 }
/^[^ \t][^ \t:]*:/	{ fields++ }
			{ lines++; words += NF; bytes += length($0) + 1 }

END {
	printf "%.0f %.0f %.0f %.0f %.0f %.0f\n",
	    lines, words, bytes, packages, fields, kib
}
