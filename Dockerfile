# Image of the kiln workers (data and GPU): Node.js for the workers, the venv for the trainer.
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv util-linux && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY python/requirements.txt python/requirements-nodeps.txt python/
RUN python3 -m venv .venv \
 && .venv/bin/pip install --no-cache-dir -r python/requirements.txt \
 && .venv/bin/pip install --no-cache-dir --no-deps -r python/requirements-nodeps.txt
COPY . .
ENV KILN_HOME=/var/lib/kiln
CMD ["node", "--import", "tsx", "workers/dataWorker.ts"]
