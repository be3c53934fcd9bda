{{/*
The names ark-apiserver and the ark command line assume (see values.yaml):
they are constants of the chart, not values.
*/}}
{{- define "ark.systemNamespace" -}}ark-system{{- end }}
{{- define "ark.homeNamespace" -}}heptio-ark{{- end }}

{{/* Labels of every object: its name, for selecting, and the release's. */}}
{{- define "ark.labels" -}}
app.kubernetes.io/name: ark-apiserver
app.kubernetes.io/part-of: ark
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}
{{- end }}

{{/*
The selector of the server's pods: the same as artifacts/ and `ark install`
use, so that a cluster installed either way keeps its selectors (they are
immutable).
*/}}
{{- define "ark.selectorLabels" -}}
app.kubernetes.io/name: ark-apiserver
{{- end }}

{{- define "ark.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Whether ark-apiserver runs against an etcd of the user's. */}}
{{- define "ark.externalEtcd" -}}
{{- if .Values.etcd.external.servers }}true{{ end }}
{{- end }}

{{/* Whether the chart generates the serving certificate and its CA. */}}
{{- define "ark.generateTLS" -}}
{{- if not .Values.tls.caBundle }}true{{ end }}
{{- end }}

{{/* The Secret the serving certificate is mounted from. */}}
{{- define "ark.tlsSecret" -}}
{{- if include "ark.generateTLS" . }}ark-apiserver-tls{{ else }}{{ required "tls.existingSecret: the Secret of ark-system holding the serving certificate signed by the CA of tls.caBundle" .Values.tls.existingSecret }}{{ end }}
{{- end }}

{{/* The name/key of the backup location's credential, "" for none. */}}
{{- define "ark.credential" -}}
{{- $c := .Values.credentials }}
{{- if and $c.secretContents $c.existingSecret }}
{{- fail "credentials: give secretContents or existingSecret, not both" }}
{{- end }}
{{- if $c.secretContents }}cloud-credentials/cloud
{{- else if $c.existingSecret }}{{ $c.existingSecret }}/{{ required "credentials.existingSecretKey: the key of credentials.existingSecret holding the credential" $c.existingSecretKey }}
{{- end }}
{{- end }}

{{/* The number of ark-apiserver replicas, checked against the etcd. */}}
{{- define "ark.replicas" -}}
{{- if include "ark.externalEtcd" . }}
{{- if kindIs "invalid" .Values.replicas }}2{{ else }}{{ int .Values.replicas }}{{ end }}
{{- else }}
{{- if and (not (kindIs "invalid" .Values.replicas)) (ne (int .Values.replicas) 1) }}
{{- fail "replicas: the embedded etcd is not clustered, so it runs one replica; set etcd.external.servers for more" }}
{{- end }}1
{{- end }}
{{- end }}

{{/*
A --flag=value argument, left out when the value is empty (the server's
default then applies); 0 and "0" are values.
*/}}
{{- define "ark.flag" -}}
{{- $v := index . 1 }}
{{- if not (or (kindIs "invalid" $v) (and (kindIs "string" $v) (eq $v ""))) }}
- {{ printf "--%s=%v" (index . 0) $v | quote }}
{{- end }}
{{- end }}

{{/* ark-apiserver's arguments, the same for both workloads. */}}
{{- define "ark.args" -}}
{{- $location := required "backupLocation is required: the bucket backups go to, e.g. --set backupLocation=gs://my-bucket/cluster-1" .Values.backupLocation -}}
- --secure-port=8443
- --tls-cert-file=/etc/ark/tls/tls.crt
- --tls-private-key-file=/etc/ark/tls/tls.key
{{- if include "ark.generateTLS" . }}
- --serving-cert-secret=ark-system/ark-apiserver-tls
- --serving-ca-secret=ark-apiserver-ca
{{- end }}
- --namespace=heptio-ark
- --data-dir=/var/lib/ark
- {{ printf "--backup-location=%s" $location | quote }}
{{- with include "ark.credential" . }}
- {{ printf "--backup-location-credential=%s" . | quote }}
{{- end }}
{{- if include "ark.externalEtcd" . }}
- {{ printf "--etcd-servers=%s" (join "," .Values.etcd.external.servers) | quote }}
{{- if .Values.etcd.external.clientSecret }}
- --etcd-cafile=/etc/ark/etcd/ca.crt
- --etcd-certfile=/etc/ark/etcd/tls.crt
- --etcd-keyfile=/etc/ark/etcd/tls.key
{{- end }}
{{- end }}
{{- with .Values.server }}
{{- include "ark.flag" (list "bucket-poll-interval" .bucketPollInterval) }}
{{- include "ark.flag" (list "backup-workers" .backupWorkers) }}
{{- include "ark.flag" (list "namespace-concurrency" .namespaceConcurrency) }}
{{- include "ark.flag" (list "gc-interval" .gcInterval) }}
{{- include "ark.flag" (list "tenant-max-hook-timeout" .tenantLimits.maxHookTimeout) }}
{{- include "ark.flag" (list "tenant-min-schedule-interval" .tenantLimits.minScheduleInterval) }}
{{- include "ark.flag" (list "tenant-max-ttl" .tenantLimits.maxTTL) }}
{{- range .extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod template of either workload: artifacts/40-statefulset.yaml's, or
with an external etcd examples/ha-external-etcd.yaml's.
*/}}
{{- define "ark.podTemplate" -}}
{{- $external := include "ark.externalEtcd" . -}}
metadata:
  labels:
    {{- include "ark.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or .Values.podAnnotations .Values.credentials.secretContents }}
  annotations:
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if .Values.credentials.secretContents }}
    # The server reads the credential at start: a new one restarts it.
    checksum/credentials: {{ .Values.credentials.secretContents | sha256sum }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: ark-apiserver
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if $external }}
  affinity:
    podAntiAffinity: # replicas on different nodes, where there are some
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "ark.selectorLabels" . | nindent 14 }}
  {{- end }}
  containers:
  - name: ark-apiserver
    image: {{ include "ark.image" . | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args:
      {{- include "ark.args" . | nindent 6 }}
    {{- with .Values.env }}
    env:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    ports:
    - containerPort: 8443
      name: https
    readinessProbe:
      httpGet: {path: /readyz, port: https, scheme: HTTPS}
    livenessProbe:
      httpGet: {path: /livez, port: https, scheme: HTTPS}
      initialDelaySeconds: 10
    {{- with .Values.resources }}
    resources:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.securityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumeMounts:
    - {name: tls, mountPath: /etc/ark/tls, readOnly: true}
    {{- if and $external .Values.etcd.external.clientSecret }}
    - {name: etcd-client, mountPath: /etc/ark/etcd, readOnly: true}
    {{- end }}
    - {name: data, mountPath: /var/lib/ark}
    - {name: tmp, mountPath: /tmp}
  volumes:
  - name: tls
    secret:
      secretName: {{ include "ark.tlsSecret" . | quote }}
  {{- if $external }}
  {{- with .Values.etcd.external.clientSecret }}
  - name: etcd-client
    secret:
      secretName: {{ . | quote }}
  {{- end }}
  - name: data # no state with an external etcd: scratch only
    emptyDir: {}
  {{- end }}
  - name: tmp # restores unpack their backup here
    emptyDir: {}
{{- end }}
