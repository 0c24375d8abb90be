# Worker image for Dataflow: Beam's own Python SDK image (its /opt/apache/beam/boot
# entrypoint starts the worker, so ENTRYPOINT is left alone) plus the pinned
# environment of scripts/setup.sh and this package. Python (3.11) and Beam
# (2.59.0) must match the machine that submits the job.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/korpat-pipeline:TAG .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/korpat-pipeline:TAG
#
# docs/dataflow.md has the whole procedure.
#
# The same image runs the TFX steps on Vertex AI Pipelines
# (`python -m pipeline compile-vertex`): each step's command is TFX's
# `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`.
# For the GPU training step build it with CUDA's pip wheels:
#
#   docker build --build-arg WITH_CUDA=1 -t .../korpat-pipeline:TAG-gpu .
FROM apache/beam_python3.11_sdk:2.59.0
ARG WITH_CUDA=0

WORKDIR /opt/korpat

# Dependencies first, so that a code change does not reinstall them. Same
# order and flags as scripts/setup.sh: tfx declares python<3.11 but runs on
# 3.11 with these pins, so it is installed without dependency resolution.
COPY requirements.txt requirements-tfx.txt ./
RUN pip install --no-cache-dir --disable-pip-version-check --upgrade pip==24.3.1 \
 && pip install --no-cache-dir --disable-pip-version-check -r requirements.txt \
 && pip install --no-cache-dir --disable-pip-version-check --no-deps --ignore-requires-python -r requirements-tfx.txt \
 && if [ "$WITH_CUDA" = 1 ]; then \
      pip install --no-cache-dir --disable-pip-version-check "tensorflow[and-cuda]==2.16.2"; \
    fi

# The package itself (what .dockerignore lets through: pyproject.toml, setup.py,
# MANIFEST.in, README.md, pipeline/, components/, dictionaries/, tfrecords_schema/);
# the wheel carries dictionaries/ and tfrecords_schema/ as pipeline/_data/ and
# installs the `korpat` command.
COPY . .
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps . \
 && korpat --help >/dev/null \
 && (cd / && python -c "from pipeline import package_data as d; assert d.find('dictionaries/stopwords.txt') and d.find('tfrecords_schema/bert-128/schema.pbtxt')") \
 && python -c "import apache_beam, pipeline.stages.clean, pipeline.stages.ingest; assert apache_beam.__version__ == '2.59.0'" \
 && python -c "import components.pipeline_factory, components.trainer.run, tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor" \
 && python -c "import mecab; assert mecab.MeCab().nouns('반도체 기판을 세정한다'), 'mecab-ko dictionary missing'"
