"""The experiment engine: suite files, cells, the results store, local and Dask execution, cost."""
