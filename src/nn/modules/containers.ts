// torch/nn/modules/container.py and nn.Module itself. Children come from nested specs; names are
// checked the way nn.Module.add_module checks them, in the same order.
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { keyError, pyTypeName, torchTypeName } from '../py-repr.js'
import { type AnyModuleDef, defineModule, isModuleNode, isNonModuleRef, type ModuleNode } from '../define.js'

const pyModule = 'torch.nn.modules.container'

// hasattr(container, name) is true for these (dir() of an empty instance in PyTorch 2.13), so
// add_module refuses them as child names: ModuleDict({"train": ...}) is a KeyError in PyTorch.
const MODULE_ATTRS = ('T_destination __annotations__ __call__ __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ ' +
  '__format__ __ge__ __getattr__ __getattribute__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__ ' +
  '__module__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__ __setattr__ __setstate__ __sizeof__ __str__ ' +
  '__subclasshook__ __weakref__ _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl ' +
  '_forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks ' +
  '_forward_pre_hooks_with_kwargs _get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook ' +
  '_load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook ' +
  '_modules _named_members _non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook ' +
  '_register_state_dict_hook _replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks ' +
  '_state_dict_pre_hooks _version _wrapped_call_impl add_module apply bfloat16 buffers call_super_init children ' +
  'compile cpu cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter ' +
  'get_submodule half ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters ' +
  'parameters register_backward_hook register_buffer register_forward_hook register_forward_pre_hook ' +
  'register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook ' +
  'register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook ' +
  'register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty ' +
  'train training type xpu zero_grad').split(' ')
const SEQUENCE_ATTRS = '__add__ __delitem__ __getitem__ __iadd__ __imul__ __iter__ __len__ __mul__ __rmul__ __setitem__ _get_item_by_idx _get_abs_string_index append extend insert pop'.split(' ')
const DICT_ATTRS = '__contains__ __delitem__ __getitem__ __iter__ __len__ __setitem__ clear items keys pop update values'.split(' ')

type Children = Map<string, ModuleNode | null>

/** nn.Module.add_module: module type, then name type, then attribute clash, '.', empty name. */
function addModule (children: Children, attrs: ReadonlySet<string>, name: unknown, module: unknown): void {
  if (!isModuleNode(module) && module !== null) argError(`${torchTypeName(module)} is not a Module subclass`)
  if (typeof name !== 'string') argError(`module name should be a string. Got ${torchTypeName(name)}`)
  if (attrs.has(name) && !children.has(name)) keyError(`attribute '${name}' already exists`)
  if (name.includes('.')) keyError(`module name can't contain ".", got: ${name}`)
  if (name === '') keyError('module name can\'t be empty string ""')
  children.set(name, module)
}

const seqAttrs = new Set([...MODULE_ATTRS, ...SEQUENCE_ATTRS])
const dictAttrs = new Set([...MODULE_ATTRS, ...DICT_ATTRS])

/** A JSON object standing for a dict/OrderedDict (not a built module or a non-module class). */
function isMapping (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isModuleNode(v) && !isNonModuleRef(v)
}

/** What `for x in value` yields for a JSON value or module, or undefined when not iterable. */
function iterate (value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value
  if (typeof value === 'string') return [...value]
  if (isModuleNode(value)) {
    if (value.name === 'Sequential' || value.name === 'ModuleList') return value.children.map(([, m]) => m)
    if (value.name === 'ModuleDict') return value.children.map(([k]) => k)
    return undefined
  }
  if (isMapping(value)) return Object.keys(value)
  return undefined
}

const childList = (c: Children): Array<readonly [string, ModuleNode | null]> => [...c.entries()]

export const sequential = defineModule({
  name: 'Sequential',
  pyModule,
  acceptsDevice: false,
  doc: 'Runs its modules in order. Children are named 0, 1, 2, ... from positional specs; a single JSON object ' +
    '{name: spec} stands for the OrderedDict form and keeps its names.',
  signature: { args: arg.typed('Module', arg.varArgs(arg.any())) },
  build (a) {
    const children: Children = new Map()
    const only = a.args[0]
    if (a.args.length === 1 && isMapping(only)) {
      for (const [k, m] of Object.entries(only)) addModule(children, seqAttrs, k, m)
    } else {
      a.args.forEach((m, i) => addModule(children, seqAttrs, String(i), m))
    }
    return { children: childList(children) }
  }
})

export const moduleList = defineModule({
  name: 'ModuleList',
  pyModule,
  acceptsDevice: false,
  doc: 'Holds submodules in a list; children are named 0, 1, 2, ...',
  signature: { modules: arg.typed('Optional[Iterable[Module]]', arg.any(null)) },
  build (a) {
    const children: Children = new Map()
    if (a.modules !== null) {
      const items = iterate(a.modules)
      if (items === undefined) argError(`ModuleList.extend should be called with an iterable, but got ${pyTypeName(a.modules)}`)
      items.forEach((m, i) => addModule(children, seqAttrs, String(i), m))
    }
    return { children: childList(children) }
  }
})

export const moduleDict = defineModule({
  name: 'ModuleDict',
  pyModule,
  acceptsDevice: false,
  doc: 'Holds submodules by name: a JSON object {name: spec} (or a list of [name, spec] pairs), in the given order.',
  signature: { modules: arg.typed('Optional[Mapping[str, Module]]', arg.any(null)) },
  build (a) {
    const children: Children = new Map()
    const m = a.modules
    if (m === null) return {}
    if (isModuleNode(m) && m.name === 'ModuleDict') {
      for (const [k, v] of m.children) addModule(children, dictAttrs, k, v)
    } else if (isMapping(m)) {
      for (const [k, v] of Object.entries(m)) addModule(children, dictAttrs, k, v)
    } else {
      const items = iterate(m)
      if (items === undefined) argError(`ModuleDict.update should be called with an iterable of key/value pairs, but got ${pyTypeName(m)}`)
      items.forEach((pair, j) => {
        const kv = isMapping(pair) ? undefined : iterate(pair)
        if (kv === undefined) argError(`ModuleDict update sequence element #${j} should be Iterable; is${pyTypeName(pair)}`)
        if (kv.length !== 2) argError(`ModuleDict update sequence element #${j} has length ${kv.length}; 2 is required`)
        addModule(children, dictAttrs, kv[0], kv[1])
      })
    }
    return { children: childList(children) }
  }
})

export const module = defineModule({
  name: 'Module',
  pyModule: 'torch.nn.modules.module',
  acceptsDevice: false,
  doc: 'The base class: an empty module with no tensors and no children.',
  signature: {},
  build: () => ({})
})

export const defs: AnyModuleDef[] = [sequential, moduleList, moduleDict, module]
