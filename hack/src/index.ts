// The package root: deliberately empty. Tests and scripts import modules by path (@hypergen/hack/<path>.js).
export {};
