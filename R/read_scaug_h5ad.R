# Read a scaug (AnnData) .h5ad into Seurat, with hdf5r only (no SeuratDisk, no Python).
#
#   source("R/read_scaug_h5ad.R")
#   obj <- read_scaug_h5ad("augmented.h5ad")          # counts: layer=, else layers/counts, else X
#
# Command line (reads the file, runs NormalizeData -> FindVariableFeatures -> ScaleData -> RunPCA and
# prints a one-line JSON summary; tests/test_seurat.py runs it):
#
#   Rscript R/read_scaug_h5ad.R augmented.h5ad [--layer=counts] [--npcs=30]
#
# Needs the R packages Seurat (>= 4) and hdf5r (Debian: r-cran-seurat r-cran-hdf5r; `make install-r`).
# The on-disk format read here is anndata's (>= 0.8): a matrix is a dense dataset or a group with
# data/indices/indptr and the attributes encoding-type (csr_matrix/csc_matrix) and shape; a dataframe
# (obs, var) is a group whose attribute _index names the index column; categoricals are groups with
# codes (-1 = NA) and categories; nullable booleans/integers are groups with values and mask.

suppressPackageStartupMessages({
  library(hdf5r)
  library(Matrix)
  library(Seurat)
})

.h5_attr <- function(node, name, default = NULL) {
  if (!(name %in% hdf5r::h5attr_names(node))) {
    return(default)
  }
  attr <- node$attr_open(name)
  on.exit(attr$close())
  # hdf5r cannot read an empty attribute ("null attribute buffer"); anndata writes one for an empty
  # column-order (a float64 array of length 0).
  if (attr$get_space()$get_select_npoints() == 0) {
    return(default)
  }
  attr$read()
}

.h5_encoding <- function(node) .h5_attr(node, "encoding-type", default = "")

# One obs/var column: a vector of length n, or NULL (with a warning) for an encoding we do not know.
.read_column <- function(node, name) {
  if (inherits(node, "H5D")) {
    return(node$read())
  }
  enc <- .h5_encoding(node)
  if (enc == "categorical") {
    codes <- as.integer(node[["codes"]]$read())
    categories <- node[["categories"]]$read()
    values <- categories[ifelse(codes < 0L, NA_integer_, codes + 1L)]
    return(factor(values, levels = categories, ordered = isTRUE(as.logical(.h5_attr(node, "ordered", FALSE)))))
  }
  if (enc %in% c("nullable-boolean", "nullable-integer", "nullable-string-array")) {
    values <- node[["values"]]$read()
    values[as.logical(node[["mask"]]$read())] <- NA
    return(values)
  }
  warning(sprintf("column '%s': encoding '%s' not supported, skipped", name, enc), call. = FALSE)
  NULL
}

# obs or var as a data.frame whose row names are the index (cell or gene names).
.read_dataframe <- function(group) {
  index_key <- .h5_attr(group, "_index", default = "_index")
  index <- as.character(group[[index_key]]$read())
  columns <- as.character(.h5_attr(group, "column-order", default = character(0)))
  if (length(columns) == 0) {
    # no column-order (or an empty one): the members other than the index
    columns <- setdiff(group$ls()$name, index_key)
  }
  df <- data.frame(row.names = index, check.names = FALSE)
  for (column in columns) {
    values <- .read_column(group[[column]], column)
    if (!is.null(values)) df[[column]] <- values
  }
  df
}

# A matrix slot (X or layers/<name>), cells x genes on disk, as a genes x cells dgCMatrix.
.read_matrix <- function(node, n_obs, n_var) {
  if (inherits(node, "H5D")) {
    m <- node$read() # hdf5r reverses the dimensions: the cells x genes dataset arrives genes x cells
    stopifnot(identical(as.numeric(dim(m)), as.numeric(c(n_var, n_obs))))
    storage.mode(m) <- "double"
    return(as(m, "CsparseMatrix"))
  }
  enc <- .h5_encoding(node)
  shape <- as.numeric(.h5_attr(node, "shape"))
  stopifnot(identical(shape, as.numeric(c(n_obs, n_var))))
  i <- as.integer(node[["indices"]]$read())
  p <- as.integer(node[["indptr"]]$read())
  x <- as.double(node[["data"]]$read())
  if (enc == "csr_matrix") {
    # CSR of cells x genes is CSC of genes x cells: rows = genes, columns = cells.
    return(Matrix::sparseMatrix(i = i, p = p, x = x, dims = c(n_var, n_obs), index1 = FALSE))
  }
  if (enc == "csc_matrix") {
    m <- Matrix::sparseMatrix(i = i, p = p, x = x, dims = c(n_obs, n_var), index1 = FALSE)
    return(as(Matrix::t(m), "CsparseMatrix"))
  }
  stop(sprintf("matrix encoding '%s' not supported", enc), call. = FALSE)
}

# uns/<key> as nested lists (dataframes as data.frames, scalars and strings as vectors).
.read_uns <- function(node) {
  if (inherits(node, "H5D")) {
    return(node$read())
  }
  if (.h5_encoding(node) == "dataframe") {
    return(.read_dataframe(node))
  }
  if (.h5_encoding(node) %in% c("categorical", "nullable-boolean", "nullable-integer")) {
    return(.read_column(node, "uns"))
  }
  out <- list()
  for (name in node$ls()$name) out[[name]] <- .read_uns(node[[name]])
  out
}

#' Read an AnnData .h5ad written by scaug into a Seurat object.
#'
#' @param path the .h5ad file.
#' @param layer counts slot: a name under layers/; NULL takes layers/counts when present, else X.
#' @param assay Seurat assay name.
#' @return a Seurat object: counts genes x cells (dgCMatrix), obs in meta.data (categoricals as
#'   factors, scaug_synthetic logical), var in the assay's meta.features (plus h5ad_name, the
#'   original gene name: Seurat turns '_' and '|' into '-'), uns$scaug in obj@misc$scaug, and the
#'   slot the counts came from in obj@misc$counts_source ("X" or "layers/<name>").
read_scaug_h5ad <- function(path, layer = NULL, assay = "RNA") {
  f <- hdf5r::H5File$new(path, mode = "r")
  on.exit(f$close_all(), add = TRUE)

  obs <- .read_dataframe(f[["obs"]])
  var <- .read_dataframe(f[["var"]])

  if (!is.null(layer)) {
    source <- paste0("layers/", layer)
    if (!f$exists(source)) stop(sprintf("%s: no layer '%s'", path, layer), call. = FALSE)
  } else if (f$exists("layers/counts")) {
    source <- "layers/counts"
  } else {
    source <- "X"
  }
  counts <- .read_matrix(f[[source]], n_obs = nrow(obs), n_var = nrow(var))

  features <- make.unique(gsub("[_|]", "-", rownames(var)))
  dimnames(counts) <- list(features, rownames(obs))
  if ("scaug_synthetic" %in% names(obs)) obs$scaug_synthetic <- as.logical(obs$scaug_synthetic)

  obj <- Seurat::CreateSeuratObject(counts = counts, project = "scaug", assay = assay, meta.data = obs)
  # Seurat derives orig.ident from the cell names ("cell" of "cell_0"): one project instead
  obj$orig.ident <- factor(rep("scaug", ncol(obj)))
  Seurat::Idents(obj) <- "orig.ident"
  var$h5ad_name <- rownames(var)
  rownames(var) <- features
  obj[[assay]] <- Seurat::AddMetaData(obj[[assay]], metadata = var)
  obj@misc$counts_source <- source
  if (f$exists("uns/scaug")) obj@misc$scaug <- .read_uns(f[["uns/scaug"]])
  obj
}

# Sum of the stored values of a matrix slot, read straight from the file (the counts checksum).
.h5ad_total <- function(path, source) {
  f <- hdf5r::H5File$new(path, mode = "r")
  on.exit(f$close_all(), add = TRUE)
  node <- f[[source]]
  if (inherits(node, "H5D")) sum(as.double(node$read())) else sum(as.double(node[["data"]]$read()))
}

.main <- function(args) {
  opts <- grepl("^--", args)
  value <- function(key, default) {
    hit <- sub(paste0("^--", key, "="), "", args[startsWith(args, paste0("--", key, "="))])
    if (length(hit)) hit[[1]] else default
  }
  if (sum(!opts) != 1) {
    stop("usage: Rscript R/read_scaug_h5ad.R file.h5ad [--layer=NAME] [--npcs=N] [--labels-key=KEY]", call. = FALSE)
  }
  path <- args[!opts][[1]]
  obj <- read_scaug_h5ad(path, layer = value("layer", NULL))

  runs <- obj@misc$scaug$runs
  labels_key <- value("labels-key", if (length(runs)) runs[[1]]$labels_key else NA_character_)
  synthetic <- if ("scaug_synthetic" %in% names(obj[[]])) obj$scaug_synthetic else rep(FALSE, ncol(obj))
  label_counts <- function(keep) {
    if (is.na(labels_key)) {
      return(setNames(list(), character(0)))
    }
    tab <- table(obj[[labels_key]][[1]][keep], useNA = "no")
    as.list(setNames(as.numeric(tab), names(tab)))
  }

  counts <- Seurat::GetAssayData(obj, slot = "counts")
  total <- sum(counts)
  n_features <- min(2000L, nrow(obj))
  obj <- Seurat::NormalizeData(obj, verbose = FALSE)
  obj <- Seurat::FindVariableFeatures(obj, nfeatures = n_features, verbose = FALSE)
  obj <- Seurat::ScaleData(obj, features = Seurat::VariableFeatures(obj), verbose = FALSE)
  npcs <- min(as.integer(value("npcs", 30L)), ncol(obj) - 1L, n_features - 1L)
  obj <- Seurat::RunPCA(obj, npcs = npcs, verbose = FALSE)
  pca <- Seurat::Embeddings(obj, "pca")

  summary <- list(
    file = path,
    counts_source = obj@misc$counts_source,
    n_cells = ncol(obj),
    n_genes = nrow(obj),
    n_synthetic = sum(synthetic),
    labels_key = labels_key,
    label_counts = label_counts(TRUE),
    synthetic_label_counts = label_counts(synthetic),
    total_counts = total,
    h5ad_total_counts = .h5ad_total(path, obj@misc$counts_source),
    counts_match = isTRUE(all.equal(total, .h5ad_total(path, obj@misc$counts_source), tolerance = 0)),
    counts_integer = all(counts@x == round(counts@x)),
    # orientation/order checks: sum over cells of (1-based cell index x cell total), same for genes
    cell_weighted_total = sum(seq_len(ncol(counts)) * as.numeric(Matrix::colSums(counts))),
    gene_weighted_total = sum(seq_len(nrow(counts)) * as.numeric(Matrix::rowSums(counts))),
    meta_data_classes = lapply(obj[[]], function(column) class(column)[[1]]),
    pca_dims = dim(pca),
    pca_cells_match = identical(rownames(pca), colnames(obj))
  )
  cat(jsonlite::toJSON(summary, auto_unbox = TRUE, digits = NA), "\n", sep = "")
}

if (sys.nframe() == 0L) .main(commandArgs(trailingOnly = TRUE))
