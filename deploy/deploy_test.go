// Package deploy holds rkv's packaging: the Kubernetes manifests, the Helm
// chart, the systemd unit (and, at the repository's root, the Dockerfile
// and docker-compose.yml). No container engine or cluster runs where the
// tests do, so these tests read the files: each manifest is decoded
// strictly into the Kubernetes API's types, and the objects are checked
// for what rkv needs of them.
package deploy

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// objects are the Kubernetes objects of one deployment of rkv.
type objects struct {
	sts      *appsv1.StatefulSet
	services []*corev1.Service
	pdb      *policyv1.PodDisruptionBudget
	secrets  []*corev1.Secret
}

// add decodes one YAML document strictly (an unknown or repeated field
// is an error) into the type its kind names.
func (o *objects) add(t *testing.T, name string, doc []byte) {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 StatefulSet":
		if o.sts != nil {
			t.Fatalf("%s: a second StatefulSet", name)
		}
		o.sts = &appsv1.StatefulSet{}
		obj = o.sts
	case "v1 Service":
		s := &corev1.Service{}
		o.services = append(o.services, s)
		obj = s
	case "policy/v1 PodDisruptionBudget":
		if o.pdb != nil {
			t.Fatalf("%s: a second PodDisruptionBudget", name)
		}
		o.pdb = &policyv1.PodDisruptionBudget{}
		obj = o.pdb
	case "v1 Secret":
		s := &corev1.Secret{}
		o.secrets = append(o.secrets, s)
		obj = s
	default:
		t.Fatalf("%s: unexpected kind %q %q", name, tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestKubernetesManifests checks deploy/kubernetes/*.yaml.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var o objects
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o.add(t, f, b)
	}
	if o.sts == nil || o.sts.Spec.Replicas == nil {
		t.Fatal("no StatefulSet with replicas")
	}
	checkObjects(t, &o, int(*o.sts.Spec.Replicas))
	for _, obj := range append([]metav1.Object{o.sts, o.pdb}, servicesAsObjects(o.services)...) {
		if obj.GetNamespace() != "" {
			t.Errorf("%s names namespace %q: kubectl apply -n chooses it", obj.GetName(), obj.GetNamespace())
		}
	}
}

func fmtPtr(p *int64) string {
	if p == nil {
		return "unset"
	}
	return strconv.FormatInt(*p, 10)
}

func servicesAsObjects(s []*corev1.Service) []metav1.Object {
	var out []metav1.Object
	for _, x := range s {
		out = append(out, x)
	}
	return out
}

// checkObjects checks what a running rkv cluster needs of its objects,
// founders being the pods listed in --cluster.
func checkObjects(t *testing.T, o *objects, founders int) {
	t.Helper()
	sts := o.sts
	replicas := int(*sts.Spec.Replicas)
	if founders%2 == 0 || founders < 1 || replicas < founders {
		t.Errorf("%d founders of %d replicas: want an odd number of founders, at most the replicas", founders, replicas)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy %q: the founders must start together (none is ready before a quorum is up)", sts.Spec.PodManagementPolicy)
	}
	pod := sts.Spec.Template
	podLabels := labels.Set(pod.Labels)
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("the StatefulSet's selector %v does not select its pods' labels %v (%v)", sts.Spec.Selector, pod.Labels, err)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want rkv alone", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if !slices.Equal(c.Command, []string{"/usr/local/bin/rkv"}) {
		t.Errorf("command %q: want the image's rkv with these args alone", c.Command)
	}
	flags := parseArgs(t, c.Args)
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	// Kubernetes leaves $(VAR) as typed when VAR is not defined.
	for _, a := range c.Args {
		for _, m := range regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`).FindAllStringSubmatch(a, -1) {
			if _, ok := env[m[1]]; !ok {
				t.Errorf("argument %q uses $(%s), which the container's env does not define", a, m[1])
			}
		}
	}
	if ref := env["POD_NAME"].ValueFrom; ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("POD_NAME is not the pod's name: %+v", env["POD_NAME"])
	}
	if ref := env["POD_NAMESPACE"].ValueFrom; ref == nil || ref.FieldRef == nil || ref.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("POD_NAMESPACE is not the pod's namespace: %+v", env["POD_NAMESPACE"])
	}
	if ref := env["RKV_REQUIREPASS"].ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name == "" || ref.SecretKeyRef.Key == "" {
		t.Errorf("RKV_REQUIREPASS does not come from a Secret: %+v", env["RKV_REQUIREPASS"])
	} else {
		for _, s := range o.secrets {
			if _, ok := s.StringData[ref.SecretKeyRef.Key]; s.Name == ref.SecretKeyRef.Name && !ok {
				t.Errorf("Secret %s has no key %s", s.Name, ref.SecretKeyRef.Key)
			}
		}
	}
	if _, ok := flags["requirepass"]; ok {
		t.Error("--requirepass on the command line: the password belongs in the Secret")
	}
	if v, ok := flags["id-from-hostname"]; !ok || v != "" {
		t.Errorf("--id-from-hostname %q, %v: one pod template needs the id from the ordinal", v, ok)
	}
	if _, ok := flags["id"]; ok {
		t.Error("--id beside --id-from-hostname")
	}
	if flags["protected-mode"] != "yes" {
		t.Errorf("--protected-mode %q: want an explicit yes", flags["protected-mode"])
	}

	// Ports: client (--addr's), bus (+10000, the default), metrics.
	clientPort := port(t, "--addr", flags["addr"])
	metricsPort := port(t, "--metrics-addr", flags["metrics-addr"])
	if _, ok := flags["bus"]; ok {
		t.Error("--bus given: the bus port follows the client port, as every member's does in --cluster")
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			t.Errorf("port %s is %s", p.Name, p.Protocol)
		}
		ports[p.Name] = p.ContainerPort
	}
	want := map[string]int32{"client": int32(clientPort), "bus": int32(clientPort + 10000), "metrics": int32(metricsPort)}
	if !maps.Equal(ports, want) {
		t.Errorf("container ports %v, want %v", ports, want)
	}

	// Probes: HTTP on the metrics port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/livez"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path || portOf(g.Port, c.Ports) != int32(metricsPort) {
			t.Errorf("%s probe GET %s on port %s, want %s on the metrics port %d", p.name, g.Path, g.Port.String(), p.path, metricsPort)
		}
	}

	// The data directory is a claim of its own per pod.
	dir := flags["dir"]
	var mounted string
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir {
			mounted = m.Name
		}
	}
	if dir == "" || mounted == "" || !slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool {
		_, sized := p.Spec.Resources.Requests[corev1.ResourceStorage]
		return p.Name == mounted && sized
	}) {
		t.Errorf("--dir %q is not a mounted volumeClaimTemplate with a size (mounts %+v)", dir, c.VolumeMounts)
	}

	// Graceful stop: a leader hands over (two election timeouts at
	// most), answers MOVED for one more, then exits.
	election := time.Second
	if v, ok := flags["election-timeout"]; ok {
		if election, err = time.ParseDuration(v); err != nil {
			t.Errorf("--election-timeout %q: %v", v, err)
		}
	}
	grace := pod.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second < 3*election+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s: want at least 3 election timeouts (%v) and 5s to spare", fmtPtr(grace), election)
	}

	// Names: the headless Service governs the pods' DNS names, which
	// --cluster and --announce-addr spell.
	var headless *corev1.Service
	for _, s := range o.services {
		if s.Name == sts.Spec.ServiceName {
			headless = s
		}
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s's selector %v does not select the pods %v", s.Name, s.Spec.Selector, pod.Labels)
		}
		for _, p := range s.Spec.Ports {
			if tp := portOf(p.TargetPort, c.Ports); tp == 0 {
				t.Errorf("Service %s port %s targets %s, which the container does not have", s.Name, p.Name, p.TargetPort.String())
			}
		}
	}
	if headless == nil {
		t.Fatalf("no Service named %q (the StatefulSet's serviceName)", sts.Spec.ServiceName)
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: clusterIP %q, publishNotReadyAddresses %v; want headless, publishing pods before they are ready",
			headless.Name, headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	for _, name := range []string{"client", "bus"} {
		if !slices.ContainsFunc(headless.Spec.Ports, func(p corev1.ServicePort) bool {
			return p.Port == want[name] && portOf(p.TargetPort, c.Ports) == want[name]
		}) {
			t.Errorf("headless Service %s does not carry the %s port %d", headless.Name, name, want[name])
		}
	}
	podName := func(ordinal string) string {
		return fmt.Sprintf("%s.%s.$(POD_NAMESPACE).svc:%d", ordinal, sts.Spec.ServiceName, clientPort)
	}
	if got, w := flags["announce-addr"], podName("$(POD_NAME)"); got != w {
		t.Errorf("--announce-addr %q, want %q", got, w)
	}
	var members []string
	for i := range founders {
		members = append(members, fmt.Sprintf("%d=%s", i+1, podName(fmt.Sprintf("%s-%d", sts.Name, i))))
	}
	if got, w := flags["cluster"], strings.Join(members, ","); got != w {
		t.Errorf("--cluster %q, want the founders %q", got, w)
	}

	// Disruptions leave a quorum of the voters (every pod is one, those
	// beyond the founders once promoted).
	pdb := o.pdb
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget")
	}
	if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("the PodDisruptionBudget's selector %v does not select the pods %v (%v)", pdb.Spec.Selector, pod.Labels, err)
	}
	quorum := replicas/2 + 1
	switch mu, ma := pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable; {
	case (mu == nil) == (ma == nil):
		t.Error("the PodDisruptionBudget needs one of maxUnavailable and minAvailable")
	case mu != nil && (mu.Type != intstr.Int || mu.IntVal < 1 || replicas-int(mu.IntVal) < quorum):
		t.Errorf("maxUnavailable %s of %d replicas leaves less than a quorum (%d), or blocks every drain", mu.String(), replicas, quorum)
	case ma != nil && (ma.Type != intstr.Int || int(ma.IntVal) < quorum || int(ma.IntVal) >= replicas):
		t.Errorf("minAvailable %s of %d replicas: want a quorum (%d) and room for a drain", ma.String(), replicas, quorum)
	}
}

// parseArgs reads container args written --name=value (or --name for a
// boolean), the one form the manifests use, so that each flag is one
// string to check.
func parseArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || name == "" {
			t.Errorf("argument %q: want --name=value", a)
			continue
		}
		if _, dup := out[name]; dup {
			t.Errorf("--%s given twice", name)
		}
		out[name] = value
	}
	return out
}

func port(t *testing.T, flag, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(p)
	if err != nil || perr != nil || n <= 0 || n > 65535 {
		t.Fatalf("%s %q: want host:port", flag, addr)
	}
	return n
}

// portOf resolves a probe's or Service's target port, by number or by
// the container port's name; 0 when the container has no such port.
func portOf(p intstr.IntOrString, ports []corev1.ContainerPort) int32 {
	for _, cp := range ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// TestHelmChart renders deploy/helm/rkv with Go's text/template and
// test implementations of the Helm and Sprig functions its templates
// call (include, quote, toYaml, nindent, until, add, add1, int, fail; a
// template calling any other fails to parse here), then checks the
// objects as the plain manifests are checked. It cannot prove the chart
// renders in Helm; it does catch a template naming a value values.yaml
// lacks, output that is not valid Kubernetes YAML, and broken invariants.
func TestHelmChart(t *testing.T) {
	var chart struct {
		APIVersion  string `json:"apiVersion"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Type        string `json:"type"`
		Version     string `json:"version"`
		AppVersion  string `json:"appVersion"`
	}
	readYAML(t, "helm/rkv/Chart.yaml", &chart, true)
	if chart.APIVersion != "v2" || chart.Name != "rkv" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(chart.Version) || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml: %+v", chart)
	}
	var values map[string]any
	readYAML(t, "helm/rkv/values.yaml", &values, false)
	checkValueRefs(t, values)

	render := func(set map[string]any) map[string]string {
		v := deepCopy(t, values)
		maps.Copy(v, set)
		return renderChart(t, chart.Name, chart.Version, chart.AppVersion, v)
	}
	// Without a password, the chart refuses to render.
	if _, err := tryRenderChart(chart.Name, chart.Version, chart.AppVersion, values); err == nil || !strings.Contains(err.Error(), "auth.password") {
		t.Errorf("rendering without a password: %v, want an error naming auth.password", err)
	}
	for _, c := range []struct {
		name     string
		set      map[string]any
		founders int
		secret   bool
	}{
		{"password", map[string]any{"auth": map[string]any{"password": "pw", "existingSecret": "", "existingSecretKey": "password"}}, 3, true},
		{"existing secret, scaled up", map[string]any{"replicas": 5.0,
			"auth": map[string]any{"password": "", "existingSecret": "mine", "existingSecretKey": "pass"}}, 3, false},
		{"five founders", map[string]any{"founders": 5.0, "replicas": 5.0, "port": 7000.0, "metricsPort": 9000.0,
			"electionTimeout": "2s", "terminationGracePeriodSeconds": 20.0,
			"auth": map[string]any{"password": "pw", "existingSecret": "", "existingSecretKey": "password"}}, 5, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o objects
			for name, doc := range render(c.set) {
				o.add(t, name, []byte(doc))
			}
			if o.sts == nil || o.sts.Spec.Replicas == nil {
				t.Fatal("no StatefulSet with replicas")
			}
			if int(*o.sts.Spec.Replicas) != int(toFloat(c.set["replicas"], values["replicas"])) {
				t.Errorf("replicas %d", *o.sts.Spec.Replicas)
			}
			if (len(o.secrets) == 1) != c.secret {
				t.Errorf("%d Secrets, want one: %v", len(o.secrets), c.secret)
			}
			checkObjects(t, &o, c.founders)
		})
	}
}

func toFloat(v, def any) float64 {
	if f, ok := v.(float64); ok {
		return f
	}
	return def.(float64)
}

// readYAML decodes a file, strictly if asked.
func readYAML(t *testing.T, path string, v any, strict bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strict {
		err = yaml.UnmarshalStrict(b, v)
	} else {
		err = yaml.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func deepCopy(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkValueRefs finds every .Values.a.b in the templates, in branches
// rendering does not take too, and looks it up in values.yaml.
func checkValueRefs(t *testing.T, values map[string]any) {
	t.Helper()
	files, _ := filepath.Glob("helm/rkv/templates/*")
	ref := regexp.MustCompile(`\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)`)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			n++
			var cur any = values
			for _, key := range strings.Split(m[1][1:], ".") {
				mp, ok := cur.(map[string]any)
				if !ok {
					t.Errorf("%s: %s: %s is not a map in values.yaml", f, m[0], key)
					break
				}
				if cur, ok = mp[key]; !ok {
					t.Errorf("%s: %s: values.yaml has no %s", f, m[0], key)
					break
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no .Values references found in the templates")
	}
}

func renderChart(t *testing.T, name, version, appVersion string, values map[string]any) map[string]string {
	t.Helper()
	out, err := tryRenderChart(name, version, appVersion, values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tryRenderChart executes each template file but the _helpers; it returns
// the YAML documents that are not empty, by file name.
func tryRenderChart(name, version, appVersion string, values map[string]any) (map[string]string, error) {
	root := template.New(name).Option("missingkey=error")
	root.Funcs(template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b strings.Builder
			err := root.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"quote": func(v any) string { return strconv.Quote(fmt.Sprint(v)) },
		"toYaml": func(v any) (string, error) {
			b, err := yaml.Marshal(v)
			return strings.TrimSuffix(string(b), "\n"), err
		},
		"nindent": func(n int, s string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
		"until": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		},
		"add":  func(a, b int) int { return a + b },
		"add1": func(a int) int { return a + 1 },
		"int": func(v any) (int, error) {
			switch x := v.(type) {
			case float64:
				return int(x), nil
			case int:
				return x, nil
			}
			return 0, fmt.Errorf("int of %T", v)
		},
		"fail": func(msg string) (string, error) { return "", errors.New(msg) },
	})
	files, err := filepath.Glob("helm/rkv/templates/*")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := root.New(filepath.Base(f)).Parse(string(b)); err != nil {
			return nil, err
		}
	}
	data := map[string]any{
		"Values":  values,
		"Release": map[string]any{"Name": name, "Namespace": "default", "Service": "Helm"},
		"Chart":   map[string]any{"Name": name, "Version": version, "AppVersion": appVersion},
	}
	out := map[string]string{}
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "_") {
			continue
		}
		var b strings.Builder
		if err := root.ExecuteTemplate(&b, base, data); err != nil {
			return nil, err
		}
		if hasContent(b.String()) {
			out[base] = b.String()
		}
	}
	return out, nil
}

// hasContent reports whether a rendered file holds more than comments.
func hasContent(doc string) bool {
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}

// TestCompose checks ../docker-compose.yml: three nodes founding one
// cluster, each announcing the host address its client port is
// published on, so that MOVED works from the host, with the password
// from .env.
func TestCompose(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Command     []string          `json:"command"`
			Ports       []string          `json:"ports"`
			Environment map[string]string `json:"environment"`
			Volumes     []string          `json:"volumes"`
		} `json:"services"`
	}
	readYAML(t, "../docker-compose.yml", &compose, false)
	if len(compose.Services) != 3 {
		t.Fatalf("%d services, want 3", len(compose.Services))
	}
	var cluster string
	ids := map[string]bool{}
	for name, svc := range compose.Services {
		flags := parseArgs(t, svc.Command)
		if cluster == "" {
			cluster = flags["cluster"]
		}
		if flags["cluster"] != cluster || cluster == "" {
			t.Errorf("%s: --cluster %q, others %q", name, flags["cluster"], cluster)
		}
		id := flags["id"]
		ids[id] = true
		// The announced address is this node's entry in --cluster, and
		// its client port is published on the host at the same port.
		entry := ""
		for _, m := range strings.Split(cluster, ",") {
			if mid, addr, _ := strings.Cut(m, "="); mid == id {
				entry = addr
			}
		}
		if entry == "" || flags["announce-addr"] != entry {
			t.Errorf("%s: --id %s --announce-addr %q, --cluster lists %q", name, id, flags["announce-addr"], entry)
			continue
		}
		client, bus, _ := strings.Cut(entry, "@")
		host, clientPort, _ := net.SplitHostPort(client)
		if host != "127.0.0.1" || port(t, "--addr", flags["addr"]) != port(t, "--announce-addr", client) {
			t.Errorf("%s: announces %s, listens on %s: want 127.0.0.1 and the same port", name, client, flags["addr"])
		}
		if want := "127.0.0.1:" + clientPort + ":" + clientPort; !slices.Contains(svc.Ports, want) {
			t.Errorf("%s: ports %q do not publish %s", name, svc.Ports, want)
		}
		if busHost, _, _ := net.SplitHostPort(bus); busHost != name {
			t.Errorf("%s: bus announced as %s, want the service name, which the other containers resolve", name, bus)
		}
		if svc.Environment["RKV_REQUIREPASS"] == "" {
			t.Errorf("%s: no RKV_REQUIREPASS", name)
		}
		if len(svc.Volumes) != 1 || !strings.HasSuffix(svc.Volumes[0], ":/data") {
			t.Errorf("%s: volumes %q, want one at /data", name, svc.Volumes)
		}
	}
	if len(ids) != 3 || len(strings.Split(cluster, ",")) != 3 {
		t.Errorf("ids %v, --cluster %q: want three distinct founders", ids, cluster)
	}
	env, err := os.ReadFile("../.env")
	if err != nil || !regexp.MustCompile(`(?m)^RKV_PASSWORD=.+$`).Match(env) {
		t.Errorf(".env does not set RKV_PASSWORD (%v)", err)
	}
}

// TestDockerfile: the runtime image runs as nonroot, its /data is made
// in the build stage and copied owned by that user, rkv's --dir is it,
// and protected mode is chosen explicitly.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	final := s[strings.LastIndex(s, "\nFROM "):]
	for _, re := range []string{
		`(?m)^FROM gcr\.io/distroless/static-debian12:nonroot$`,
		`(?m)^COPY --from=build --chown=65532:65532 \S+ /data$`,
		`(?m)^USER 65532:65532$`,
		`(?m)^VOLUME /data$`,
		`(?m)^EXPOSE 6379 16379 9121$`,
		`(?m)^ENTRYPOINT \[.*"--dir=/data".*"--protected-mode=yes".*\]$`,
	} {
		if !regexp.MustCompile(re).MatchString(final) {
			t.Errorf("the runtime stage does not match %s", re)
		}
	}
}

// TestSystemdUnit: the unit runs rkv in its StateDirectory as a user of
// its own, restarts it on failure but not on a bad configuration, and
// waits for a leader's hand-over on stop.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/rkv.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			unit[k] = v
		}
	}
	for k, v := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "rkv", "Restart": "on-failure", "KillSignal": "SIGTERM",
		"RestartPreventExitStatus": "2", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
	} {
		if unit[k] != v {
			t.Errorf("%s=%q, want %q", k, unit[k], v)
		}
	}
	if !strings.Contains(unit["ExecStart"], " --dir=/var/lib/"+unit["StateDirectory"]+" ") ||
		!strings.Contains(unit["ExecStart"], "--requirepass-file=%d/") {
		t.Errorf("ExecStart=%s: want --dir in the StateDirectory and the password from a credential", unit["ExecStart"])
	}
	stop, err := time.ParseDuration(unit["TimeoutStopSec"])
	if err != nil || stop < 3*time.Second+5*time.Second {
		t.Errorf("TimeoutStopSec=%s: want 3 default election timeouts and 5s to spare", unit["TimeoutStopSec"])
	}
}
