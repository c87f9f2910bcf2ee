{{/* The pods' labels, which every selector of the chart selects by. */}}
{{- define "rkv.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rkv.labels" -}}
{{ include "rkv.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret holding the password, and its key. */}}
{{- define "rkv.secretName" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecret }}{{ else }}{{ .Release.Name }}{{ end }}
{{- end }}

{{- define "rkv.secretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}password{{ end }}
{{- end }}

{{/* --cluster: the founding pods by their names under the headless Service. */}}
{{- define "rkv.cluster" -}}
{{- $name := .Release.Name -}}
{{- $port := int .Values.port -}}
{{- range $i := until (int .Values.founders) -}}
{{- if $i }},{{ end }}{{ add1 $i }}={{ $name }}-{{ $i }}.{{ $name }}.$(POD_NAMESPACE).svc:{{ $port }}
{{- end -}}
{{- end }}
