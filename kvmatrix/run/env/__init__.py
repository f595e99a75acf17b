"""A cell's environments: the interpreters, the uv venvs and installs, the torch index and the date the
package index is taken as of, the index check, and the shared compiled bytecode."""
